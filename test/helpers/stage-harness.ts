/**
 * Run a real stage module in-process on real folders (no engine, no cache): for unit-testing
 * stage modules before wiring them into a pipeline. Params are checked against the module's schema.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { checkParams, loadStageModule } from '../../src/run/stage-module.js';
import { runStageDefinition } from '../../src/run/stage-context.js';
import { codeKeyOf } from '../../src/run/stage-key.js';
import { STAGE_API_VERSION } from '../../src/stage-api.js';
import { CodeFingerprinter } from '../../src/run/code-fingerprint.js';
import { TAILOR_ROOT } from '../../src/paths.js';

/** One fingerprinter for the test process: files are parsed once, however many stages run. */
const fingerprinter = new CodeFingerprinter();

export interface HarnessRun {
  out: string;
  metrics: Record<string, unknown>;
  logs: string[];
  progress: Array<[number, number]>;
}

export async function runStage(
  modulePath: string,
  params: Record<string, unknown>,
  opts: {
    needs?: Record<string, string>;
    out?: string;
    state?: string;
    workdir?: string;
    seed?: number;
    signal?: AbortSignal;
    /** ctx.codeKey; default: the module's code fingerprint, as the engine computes it. */
    codeKey?: string;
  } = {},
): Promise<HarnessRun> {
  const def = await loadStageModule(resolve(modulePath));
  const check = checkParams(def.params, params);
  if (!check.ok) throw new Error(`bad params for ${modulePath}: ${JSON.stringify(check.errors)}`);
  const base = await mkdtemp(join(tmpdir(), 'tailor-stage-'));
  const logs: string[] = [];
  const progress: Array<[number, number]> = [];
  const out = opts.out ?? join(base, 'out');
  const metrics = await runStageDefinition(
    def,
    {
      stage: modulePath,
      params: check.value,
      needs: opts.needs ?? {},
      out,
      state: opts.state ?? join(base, 'state'),
      codeKey:
        opts.codeKey ??
        codeKeyOf({
          api: STAGE_API_VERSION,
          kind: 'module',
          definition: relative(TAILOR_ROOT, resolve(modulePath)),
          code: fingerprinter.fingerprint(resolve(modulePath), TAILOR_ROOT),
        }),
      workdir: opts.workdir ?? process.cwd(),
      seed: opts.seed ?? 0,
    },
    { log: (m) => logs.push(m), progress: (d, t) => progress.push([d, t]) },
    opts.signal ?? new AbortController().signal,
  );
  return { out, metrics, logs, progress };
}
