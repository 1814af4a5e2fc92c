/**
 * `tailor verify [PIPELINE] [--stage NAME]... [--jobs N] [--all] [--keep] [--json]`: rerun the
 * pipeline (or the named stages and their upstream stages) from scratch in a temporary cache and
 * compare every stage with the committed `pipelines/NAME.lock.json`. Exit 0 when everything
 * matches, 1 on any mismatch, 2 when there is nothing to compare with, 130 when interrupted.
 *
 * `--cache DIR` is only read: an earlier run there explains why a stage's key changed.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { EXIT, loadOrReport, printJson, takePipelineArg } from '../common.js';
import { removeTree } from '../../cache/seal.js';
import { parseCount } from './run.js';
import { suggestName } from '../suggest.js';
import { withStopSignals } from '../stop-signals.js';
import { PlainLogger } from '../loggers/plain-logger.js';
import { QuietLogger } from '../loggers/quiet-logger.js';
import { checkStageParams } from '../../pipeline/check-params.js';
import { formatDiagnostic } from '../../pipeline/diagnostics.js';
import { upstream } from '../../pipeline/dag.js';
import type { Pipeline, StageSpec } from '../../pipeline/types.js';
import { CacheIndex } from '../../cache/index-db.js';
import { explainChange } from '../../run/explain.js';
import { lockPathOf, readLockFile, type LockFile } from '../../run/lock-file.js';
import { cacheDirFrom } from '../../run/session.js';
import type { Ingredients } from '../../run/stage-key.js';
import { declaredDeterminism } from '../../run/stage-module.js';
import { compareStage, type Check } from '../../verify/compare.js';
import { runFresh, type FreshStage } from '../../verify/fresh-run.js';
import { formatVerifyTable, summaryLine } from '../../verify/report.js';

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stage: { type: 'string', multiple: true },
      jobs: { type: 'string' },
      json: { type: 'boolean' },
      all: { type: 'boolean' },
      keep: { type: 'boolean' },
      cache: { type: 'string' },
    },
  });
  const { pipeline: file } = takePipelineArg(positionals, 0);
  const jobs = parseCount(values.jobs, '--jobs', 2);
  const pipeline = loadOrReport(file, [], undefined, values.cache);
  if (!pipeline) return EXIT.usage;
  const lockFile = lockPathOf(pipeline);
  const lock = readLockFile(lockFile);
  if (!lock) {
    process.stderr.write(
      `tailor: no lock file ${relative(process.cwd(), lockFile)} to verify against: run \`tailor run ${file}\` and commit it\n`,
    );
    return EXIT.usage;
  }
  const selected = selectStages(pipeline, values.stage ?? [], file);
  if (!selected) return EXIT.usage;
  const paramErrors = await checkStageParams(pipeline);
  if (paramErrors.length > 0) {
    for (const d of paramErrors)
      process.stderr.write(formatDiagnostic(d, { color: Boolean(process.stderr.isTTY) }) + '\n');
    return EXIT.usage;
  }

  const cacheDir = await mkdtemp(join(tmpdir(), 'tailor-verify-'));
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write(`\ntailor: ${sig}: stopping (press Ctrl-C again to force)\n`);
    controller.abort();
  };
  try {
    return await withStopSignals(onSignal, async () => {
      if (!values.json)
        process.stderr.write(
          `tailor: verify: running ${selected.size} stage(s) of ${pipeline.name} from scratch in ${cacheDir}\n`,
        );
      const logger = values.json ? new QuietLogger() : new PlainLogger(process.stderr, false);
      const declared = await declaredDeterminism(pipeline.stages.filter((s) => selected.has(s.name)));
      const isDeterministic = (spec: StageSpec) =>
        spec.verify?.deterministic ?? declared.get(spec.name) ?? lock.stages[spec.name]?.deterministic ?? false;
      const contentOf = new Set(
        pipeline.stages.filter((s) => selected.has(s.name) && isDeterministic(s)).map((s) => s.name),
      );
      const fresh = await runFresh(pipeline, {
        cacheDir,
        selected,
        contentOf,
        jobs,
        logger,
        signal: controller.signal,
      });
      if (fresh.interrupted) return EXIT.interrupted;
      const checks = compareAll(
        pipeline,
        lock,
        selected,
        fresh.stages,
        contentOf,
        cacheDirFrom(values.cache, pipeline.workdir),
      );
      const summary = summaryLine(checks);
      if (values.json) {
        printJson({
          ok: summary.ok,
          pipeline: pipeline.name,
          lockFile,
          stages: [...selected],
          checks: checks.map(({ fold: _, ...c }) => c),
        });
      } else {
        process.stdout.write(formatVerifyTable(checks, values.all ?? false));
        process.stdout.write(summary.line + '\n');
        if (values.keep) process.stdout.write(`fresh cache kept in ${cacheDir}\n`);
      }
      return summary.ok ? EXIT.ok : EXIT.failed;
    });
  } finally {
    if (!values.keep) await removeTree(cacheDir); // harden-input: objects in it are read-only
  }
}

/** Every check of every selected stage, in pipeline order. */
function compareAll(
  pipeline: Pipeline,
  lock: LockFile,
  selected: Set<string>,
  fresh: Map<string, FreshStage>,
  contentOf: Set<string>,
  workCache: string,
): Check[] {
  const explain = keyExplainer(workCache);
  try {
    return pipeline.stages
      .filter((spec) => selected.has(spec.name))
      .flatMap((spec) =>
        compareStage({
          spec,
          entry: lock.stages[spec.name],
          fresh: fresh.get(spec.name),
          lock,
          deterministic: contentOf.has(spec.name),
          explainKey: explain.explain,
        }),
      );
  } finally {
    explain.close();
  }
}

/** The named stages (group names expand) and their upstream stages; every stage when none named. */
function selectStages(pipeline: Pipeline, names: string[], file: string): Set<string> | undefined {
  const known = new Set(pipeline.stages.flatMap((s) => [s.name, s.group]));
  for (const n of names) {
    if (!known.has(n)) {
      process.stderr.write(`tailor: no stage "${n}" in ${file}${suggestName(n, known)}\n`);
      return undefined;
    }
  }
  return names.length > 0 ? upstream(pipeline, names) : new Set(pipeline.stages.map((s) => s.name));
}

/**
 * Reasons a stage's key differs from the lock's, from the ingredients an earlier run in the
 * user's own cache recorded for the lock's key (nothing when that cache never saw it).
 */
function keyExplainer(cacheDir: string): {
  explain: (lockKey: string, fresh: FreshStage) => string[] | undefined;
  close(): void;
} {
  let index: CacheIndex | undefined;
  try {
    if (existsSync(join(cacheDir, 'index.sqlite'))) index = CacheIndex.open(cacheDir);
  } catch {
    index = undefined; // an unreadable cache only costs the explanation
  }
  return {
    explain: (lockKey, fresh) => {
      const before = index?.getOutput(lockKey)?.ingredients as Ingredients | undefined;
      if (!before || !fresh.ingredients) return undefined;
      const { needs: _needs, ...local } = fresh.ingredients;
      const reasons = explainChange(before, local);
      return reasons.length > 0 ? reasons : undefined;
    },
    close: () => index?.close(),
  };
}
