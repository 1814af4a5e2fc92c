/**
 * `tailor exp run`: one experiment, or a sweep — every combination of the comma lists in the
 * `--set` values (src/exp/sweep.ts), run one after another through the run use case, each
 * recorded under its own name with the command line that reproduces it alone. Stages the
 * experiments share have the same keys, so the cache runs them once.
 */
import type { Pipeline } from '../../pipeline/types.js';
import { EXIT, UsageError, loadOrReport, openSession, printJson, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { withInterrupts } from '../interrupts.js';
import { printHelp } from '../common.js';
import { parseCommand } from '../options.js';
import { cliRunFrom, runAndReport } from '../run-reporting.js';
import { BASELINE } from '../../exp/history.js';
import { expandGrid, experimentName, gridSize, type SweepPoint } from '../../exp/sweep.js';
import { dryRun } from './run.js';

/** More experiments than this from one command is almost surely a typo in a list. */
const MAX_GRID = 256;

/** An experiment name: printable, one line, at most 100 characters (it is data, never a path). */
export function checkName(name: string): string {
  if (name.trim() === '') throw new UsageError('--name must not be empty');
  if (name.length > 100 || /[\u0000-\u001f\u007f]/.test(name))
    throw new UsageError(`--name must be one printable line of at most 100 characters`);
  if (name === BASELINE)
    throw new UsageError(`"${BASELINE}" names the last plain \`tailor run\`; pick another experiment name`);
  return name;
}

/** Names for every point, unique within the command (a repeat gets `-2`, `-3`). */
export function namesFor(prefix: string | undefined, points: SweepPoint[]): string[] {
  const now = new Date();
  const seen = new Map<string, number>();
  return points.map((p, i) => {
    const name = experimentName(prefix, p, i, now);
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name}-${n}`;
  });
}

export async function expRun(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS['exp run'], argv);
  if (parsed.help) return printHelp(SPECS['exp run']);
  const { values, positionals } = parsed;
  const prefix = values.name === undefined ? undefined : checkName(values.name);
  const sets = values.set ?? [];
  const size = gridSize(sets);
  if (size > MAX_GRID) throw new UsageError(`the --set lists make ${size} experiments; at most ${MAX_GRID} at once`);
  const points = expandGrid(sets);
  const sweep = points.length > 1;
  if (sweep && values.export)
    throw new UsageError('--export writes one experiment into the workspace; a sweep would leave only the last one');
  const names = namesFor(prefix, points);
  const { pipeline: file } = takePipelineArg(positionals, 0);
  // Load every point before running any: a typo in the last value fails now, not an hour in.
  const pipelines: Pipeline[] = [];
  for (const p of points) {
    const loaded = loadOrReport(file, p.sets, undefined, values.cache);
    if (!loaded) return EXIT.usage;
    pipelines.push(loaded);
  }
  const session = await openSession(values.cache, (pipelines[0] as Pipeline).workdir);
  try {
    const base = { ...cliRunFrom(values), exports: values.export ?? false };
    if (values['dry-run']) {
      let code: number = EXIT.ok;
      for (const [i, pipeline] of pipelines.entries()) {
        if (sweep) process.stderr.write(`tailor: experiment ${i + 1}/${points.length} "${names[i]}"\n`);
        code = Math.max(code, await dryRun(session, pipeline, base, base.json));
      }
      return code;
    }
    const ends: Array<{ name: string; sets: string[]; code: number; stages: unknown[] }> = [];
    await withInterrupts(async (signal) => {
      for (const [i, pipeline] of pipelines.entries()) {
        if (signal.aborted) break;
        const name = names[i] as string;
        const point = points[i] as SweepPoint;
        if (sweep)
          process.stderr.write(
            `tailor: experiment ${i + 1}/${points.length} "${name}": ${point.swept.map(([k, v]) => `${k}=${v}`).join(' ')}\n`,
          );
        const req = {
          ...base,
          experiment: name,
          // What reruns this experiment alone (and what `exp apply` reads back).
          argv: ['exp', 'run', file, '--name', name, ...point.sets.flatMap((s) => ['--set', s])],
          json: base.json && !sweep,
          quiet: base.quiet || (base.json && sweep),
        };
        const { code, result } = await runAndReport(session, pipeline, req, signal);
        const outcomes = result.ok ? result.value.outcomes : [];
        ends.push({
          name,
          sets: point.sets,
          code,
          stages: outcomes.map((o) => ({
            name: o.name,
            action: o.action,
            seconds: Math.round(o.seconds * 1000) / 1000,
          })),
        });
        if (sweep) {
          const ran = outcomes.filter((o) => o.action === 'ran').length;
          process.stderr.write(
            `tailor: experiment ${i + 1}/${points.length} "${name}" ${code === EXIT.ok ? 'done' : `ended with exit ${code}`}: ${ran} stage(s) ran, ${outcomes.length - ran} reused\n`,
          );
        }
        if (code === EXIT.interrupted || code === EXIT.locked) break;
      }
    });
    if (sweep && base.json) printJson({ experiments: ends });
    const worst = ends.find((e) => e.code !== EXIT.ok)?.code ?? EXIT.ok;
    const done = ends.filter((e) => e.code === EXIT.ok).length;
    if (sweep)
      process.stderr.write(
        `tailor: sweep: ${done} of ${points.length} experiment(s) done; compare them with \`tailor exp show\`\n`,
      );
    else if (worst === EXIT.ok)
      process.stderr.write(`tailor: experiment "${names[0]}" recorded; compare runs with \`tailor exp show\`\n`);
    return ends.length < points.length && worst === EXIT.ok ? EXIT.interrupted : worst;
  } finally {
    session.close();
  }
}
