/**
 * `tailor verify [PIPELINE] [--stage NAME]... [--jobs N] [--all] [--keep] [--json]`: rerun the
 * pipeline (or the named stages and their upstream stages) from scratch in a temporary cache and
 * compare every stage with the committed `pipelines/NAME.lock.json`. Exit 0 when everything
 * matches, 1 on any mismatch, 2 when there is nothing to compare with, 130 when interrupted.
 *
 * `--cache DIR` is only read: an earlier run there explains why a stage's key changed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { EXIT, loadOrReport, printHelp, printJson, takePipelineArg } from '../common.js';
import { SPECS } from '../command-specs.js';
import { withInterrupts } from '../interrupts.js';
import { parseCommand } from '../options.js';
import { parseCount, printRunFailure } from '../run-reporting.js';
import { removeTree } from '../../cache/seal.js';
import { PlainLogger } from '../loggers/plain-logger.js';
import { QuietLogger } from '../loggers/quiet-logger.js';
import { headlineOf } from '../../pipeline/headline.js';
import type { Pipeline, StageSpec } from '../../pipeline/types.js';
import { CacheIndex } from '../../cache/index-db.js';
import { explainChange } from '../../run/explain.js';
import { lockPathOf, readLockFile, type LockFile } from '../../run/lock-file.js';
import { cacheDirFrom } from '../../run/session.js';
import { declaredDeterminism } from '../../run/stage-module.js';
import { selectStages } from '../../run/stage-selection.js';
import { compareStage, type Check } from '../../verify/compare.js';
import { runFresh, type FreshStage } from '../../verify/fresh-run.js';
import { formatVerifyTable, summaryLine } from '../../verify/report.js';

export async function verifyCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.verify, argv);
  if (parsed.help) return printHelp(SPECS.verify);
  const { values, positionals } = parsed;
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
  const selection = selectStages(pipeline, { stages: values.stage ?? [] });
  if (!selection.ok) {
    process.stderr.write(`tailor: ${selection.error}\n`);
    return EXIT.usage;
  }
  const { selected } = selection.value;

  const cacheDir = await mkdtemp(join(tmpdir(), 'tailor-verify-'));
  try {
    return await withInterrupts(async (signal) => {
      if (!values.json)
        process.stderr.write(
          `tailor: verify: running ${selected.size} stage(s) of ${pipeline.name} from scratch in ${cacheDir}\n`,
        );
      const logger = values.json ? new QuietLogger() : new PlainLogger(process.stderr, false, headlineOf(pipeline));
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
        emit: (e) => logger.handle(e),
        signal,
      });
      logger.close();
      if (!fresh.ok) {
        printRunFailure(fresh.error);
        return fresh.error.kind === 'locked' ? EXIT.locked : EXIT.usage;
      }
      if (fresh.value.interrupted) return EXIT.interrupted;
      const checks = compareAll(
        pipeline,
        lock,
        selected,
        fresh.value.stages,
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
      let before;
      try {
        before = index?.outputs.getOutput(lockKey)?.ingredients;
      } catch {
        return undefined; // a damaged cache only costs the explanation
      }
      if (!before || !fresh.ingredients) return undefined;
      const { needs: _needs, ...local } = fresh.ingredients;
      const reasons = explainChange(before, local);
      return reasons.length > 0 ? reasons : undefined;
    },
    close: () => index?.close(),
  };
}
