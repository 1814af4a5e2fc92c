/** Building a StageContext and running a stage definition against it (used in the child process and in tests). */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StageContext, StageDefinition } from '../stage-api.js';
import { loadStageRun } from '../stage-loader/definitions.js';
import { resetUsedBackend, usedBackend } from '../ml/backend-record.js';

export interface StageInvocation {
  stage: string;
  params: Record<string, unknown>;
  needs: Record<string, string>;
  out: string;
  state: string;
  /** The stage's code fingerprint as one hash (codeKeyOf in stage-key.ts): `ctx.codeKey`. */
  codeKey: string;
  workdir: string;
  seed: number;
}

export interface StageSinks {
  log(message: string): void;
  progress(done: number, total: number, label?: string): void;
}

/** Run a loaded stage definition; merges `ctx.metrics` calls into `out/metrics.json`. */
export async function runStageDefinition(
  def: StageDefinition,
  inv: StageInvocation,
  sinks: StageSinks,
  signal: AbortSignal,
): Promise<Record<string, unknown>> {
  const run = await loadStageRun(def, inv.stage);
  await mkdir(inv.out, { recursive: true });
  await mkdir(inv.state, { recursive: true });
  const metrics: Record<string, unknown> = {};
  const ctx: StageContext = {
    stage: inv.stage,
    params: Object.freeze(structuredClone(inv.params)),
    needs: Object.freeze({ ...inv.needs }),
    out: inv.out,
    state: inv.state,
    codeKey: inv.codeKey,
    workdir: inv.workdir,
    seed: inv.seed,
    signal,
    log: (m) => sinks.log(m),
    progress: (d, t, l) => sinks.progress(d, t, l),
    metrics: (values) => deepMerge(metrics, values),
  };
  resetUsedBackend();
  await run(ctx);
  if (signal.aborted) throw new Error('stage aborted');
  // The TensorFlow.js backend the stage ran on (absent when it loaded none): verify needs it.
  const backend = usedBackend();
  if (backend && !('backend' in metrics)) metrics.backend = backend;
  const file = join(inv.out, 'metrics.json');
  let written: Record<string, unknown> = {};
  try {
    written = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // no metrics.json written by the stage itself
  }
  const merged = deepMerge(written, metrics);
  if (Object.keys(merged).length > 0) await writeFile(file, JSON.stringify(merged, null, 2) + '\n');
  return merged;
}

function deepMerge(target: Record<string, unknown>, src: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(src)) {
    const cur = target[k];
    if (isPlainObject(cur) && isPlainObject(v)) deepMerge(cur, v);
    else target[k] = v;
  }
  return target;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
