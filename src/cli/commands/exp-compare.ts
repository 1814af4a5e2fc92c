/**
 * `tailor exp show | diff | apply | remove`: reading, comparing, adopting and forgetting recorded
 * experiments. The rows and columns come from src/exp (one show model for every view).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadPipeline, pipelineId } from '../../pipeline/load.js';
import { headlineOf } from '../../pipeline/headline.js';
import { EXIT, UsageError, loadOrReport, openSession, printHelp, printJson } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { parseCount } from '../run-reporting.js';
import { BASELINE, experimentRuns, findExperimentRun, showRows, type ExpRun } from '../../exp/history.js';
import { buildShowModel, SortColumnError } from '../../exp/show-model.js';
import { formatShowTable, showCsv, showJson, showMarkdown } from '../../exp/show.js';
import { diffRuns, formatDiff } from '../../exp/diff.js';
import { applySets } from '../../exp/apply.js';
import { experimentsPage } from '../../report/experiments.js';
import { flattenStageParams, paramText } from '../../exp/flat.js';
import { canonicalJson } from '../../run/canonical-json.js';
import type { Pipeline } from '../../pipeline/types.js';
import type { RunHistory } from '../../cache/run-history.js';

/** The headline metric path of the pipeline the rows come from (the default one if it cannot load). */
function headlineFor(pipelines: string[]): string {
  const only = pipelines.length === 1 ? pipelines[0] : undefined;
  if (only !== undefined && existsSync(only)) {
    const loaded = loadPipeline(only, { workdir: process.cwd() });
    if (loaded.ok) return headlineOf(loaded.value).metric;
  }
  return headlineOf({}).metric;
}

/** The width to fit: --width, the terminal, $COLUMNS, else no limit (a pipe or a file). */
function tableWidth(flag: string | undefined): number {
  if (flag !== undefined) return Math.max(20, parseCount(flag, '--width', 0));
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isFinite(env) && env > 0 ? env : Infinity;
}

export async function expShow(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp show'], argv);
  if (parsed.help) return printHelp(SPECS['exp show']);
  const { values, positionals } = parsed;
  const formats = (['json', 'csv', 'md'] as const).filter((f) => values[f]);
  if (formats.length > 1) throw new UsageError(`${formats.map((f) => `--${f}`).join(' and ')}: pick one`);
  if (values.all && values['only-changed']) throw new UsageError('--all and --only-changed: pick one');
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  // Runs are recorded under the pipeline's path from the working folder.
  const pipelineName = positionals[0] === undefined ? undefined : pipelineId(positionals[0], process.cwd());
  const session = await openSession(values.cache);
  try {
    const { experiments, baselines } = showRows(session.index.runs, {
      names: values.name,
      pipeline: pipelineName,
      last: values.last === undefined ? undefined : parseCount(values.last, '--last', 0),
    });
    const pipelines = [...new Set([...experiments, ...baselines].map((r) => r.pipeline))];
    const columns = [
      ...(values.columns ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      ...(values.metric ?? []),
    ];
    let model;
    try {
      model = buildShowModel(experiments, baselines, {
        all: values.all ?? false,
        columns,
        sortBy: values['sort-by'],
        headline: headlineFor(pipelines),
      });
    } catch (e) {
      if (e instanceof SortColumnError) throw new UsageError(e.message);
      throw e;
    }
    if (values.html !== undefined) {
      const out = resolve(values.html);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, experimentsPage(model, `tailor experiments: ${pipelines.join(', ') || 'none yet'}`));
      process.stderr.write(`tailor: wrote ${out}\n`);
    }
    if (values.json) printJson(showJson(model));
    else if (values.csv) process.stdout.write(showCsv(model));
    else if (values.md) process.stdout.write(showMarkdown(model));
    else if (values.html === undefined)
      process.stdout.write(formatShowTable(model, { all: values.all ?? false, width: tableWidth(values.width) }));
    return EXIT.ok;
  } finally {
    session.close();
  }
}

/** A ref of `exp diff`, or a usage message listing what is known. */
function resolveRef(runs: RunHistory, ref: string, pipeline: string | undefined): ExpRun | undefined {
  return findExperimentRun(runs, ref, pipeline);
}

export async function expDiff(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp diff'], argv);
  if (parsed.help) return printHelp(SPECS['exp diff']);
  const { values, positionals } = parsed;
  if (positionals.length < 1 || positionals.length > 2)
    throw new UsageError('expected one or two runs: tailor exp diff [A] B (names, run ids as #12, or baseline)');
  const refs = positionals.length === 1 ? [BASELINE, positionals[0] as string] : positionals;
  const session = await openSession(values.cache);
  try {
    const runs = session.index.runs;
    // The baseline belongs to the pipeline of the other run.
    const other = refs.find((r) => r !== BASELINE);
    const otherRun = other === undefined ? undefined : resolveRef(runs, other, undefined);
    const found = refs.map((ref) => ({
      ref,
      run: ref === other ? otherRun : resolveRef(runs, ref, otherRun?.pipeline),
    }));
    const missing = found.filter((f) => !f.run);
    if (missing.length > 0) {
      const known = [...new Set(experimentRuns(runs).map((r) => r.name))];
      const why = missing.map((m) =>
        m.ref === BASELINE && otherRun
          ? `no plain \`tailor run\` of ${otherRun.pipeline} to be the baseline`
          : `no experiment run "${m.ref}"`,
      );
      process.stderr.write(`tailor: ${why.join('; ')}${known.length ? `; known: ${known.join(', ')}` : ''}\n`);
      return EXIT.usage;
    }
    const diff = diffRuns(found[0]!.run!, found[1]!.run!);
    if (values.json) printJson(diff);
    else process.stdout.write(formatDiff(diff));
    return EXIT.ok;
  } finally {
    session.close();
  }
}

export async function expApply(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp apply'], argv);
  if (parsed.help) return printHelp(SPECS['exp apply']);
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError('expected one experiment: tailor exp apply NAME');
  const ref = positionals[0] as string;
  const session = await openSession(values.cache);
  let run: ExpRun | undefined;
  try {
    run = ref === BASELINE ? undefined : findExperimentRun(session.index.runs, ref);
  } finally {
    session.close();
  }
  if (!run) {
    process.stderr.write(`tailor: no experiment run "${ref}" to apply\n`);
    return EXIT.usage;
  }
  const file = resolve(run.pipeline);
  const source = await readFile(file, 'utf8');
  const applied = applySets(source, run.sets);
  if (!applied.ok) {
    process.stderr.write(`tailor: cannot apply "${run.name}" to ${run.pipeline}: ${applied.error}\n`);
    return EXIT.usage;
  }
  let { text, changes } = applied.value;
  // The file may differ from the experiment's own starting point (another experiment applied
  // since): write every recorded param that still differs, so `tailor run` is that experiment.
  await writeFile(file, text);
  const loaded = loadOrReport(file, [], undefined, values.cache);
  const rest = loaded ? remainingSets(run, loaded) : { sets: [], unwritable: [] };
  if (loaded && rest.sets.length > 0) {
    const more = applySets(text, rest.sets);
    if (more.ok) ({ text, changes } = { text: more.value.text, changes: [...changes, ...more.value.changes] });
  }
  if (values['dry-run'] || changes.length === 0 || !loaded) await writeFile(file, source);
  else {
    await writeFile(file, text);
    // The file must still load: put the old text back if it does not.
    if (!loadOrReport(file, [], undefined, values.cache)) {
      await writeFile(file, source);
      process.stderr.write(`tailor: ${run.pipeline} left as it was: with these values it does not load\n`);
      return EXIT.usage;
    }
  }
  if (!loaded) return EXIT.usage;
  const lines = changes.map((c) => `${c.path}: ${c.from ?? '(added)'} → ${paramText(c.to)}`);
  for (const u of rest.unwritable)
    process.stderr.write(`tailor: not written (a foreach member; set it in the group by hand): ${u}\n`);
  if (values.json) printJson({ experiment: run.name, pipeline: run.pipeline, written: !values['dry-run'], changes });
  else {
    for (const l of lines) process.stdout.write(`${l}\n`);
    process.stderr.write(
      changes.length === 0
        ? `tailor: ${run.pipeline} already has the params of "${run.name}"\n`
        : `tailor: ${values['dry-run'] ? 'would write' : 'wrote'} ${changes.length} value(s) of "${run.name}" into ${run.pipeline}${values['dry-run'] ? '' : '; `tailor run` now reuses its outputs'}\n`,
    );
  }
  return EXIT.ok;
}

export async function expRemove(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp remove'], argv);
  if (parsed.help) return printHelp(SPECS['exp remove']);
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('expected experiment names: tailor exp remove NAME...');
  if (positionals.includes(BASELINE))
    throw new UsageError(`"${BASELINE}" is the last plain run, not an experiment: it cannot be removed`);
  const session = await openSession(values.cache);
  try {
    const removed = Object.fromEntries(positionals.map((n) => [n, session.index.runs.removeExperiment(n)]));
    const unknown = positionals.filter((n) => removed[n] === 0);
    if (values.json) printJson({ removed });
    else
      for (const n of positionals)
        if ((removed[n] ?? 0) > 0) process.stderr.write(`tailor: removed experiment "${n}" (${removed[n]} run(s))\n`);
    if (unknown.length > 0) {
      process.stderr.write(`tailor: no experiment ${unknown.map((n) => `"${n}"`).join(', ')}\n`);
      return EXIT.failed;
    }
    return EXIT.ok;
  } finally {
    session.close();
  }
}

/** `--set` arguments for the recorded params a loaded pipeline does not have yet. */
function remainingSets(run: ExpRun, pipeline: Pipeline): { sets: string[]; unwritable: string[] } {
  const current = flattenStageParams(Object.fromEntries(pipeline.stages.map((st) => [st.name, st.params])));
  const sets: string[] = [];
  const unwritable: string[] = [];
  for (const [key, value] of Object.entries(run.params)) {
    if (canonicalJson(current[key] ?? null) === canonicalJson(value)) continue;
    if (key.includes('@')) unwritable.push(`${key}=${paramText(value)}`);
    else sets.push(`${key}=${JSON.stringify(value)}`);
  }
  return { sets, unwritable };
}
