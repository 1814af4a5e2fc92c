/**
 * Which backend a stage ran on, written into its metrics.json as `backend: {...}` (the lock file
 * copies metrics, so `tailor verify` sees it), and whether two runs' bytes can be expected to be the
 * same. Measured (docs/reproducibility.md): wasm and cpu give the same bytes on any machine;
 * tfjs-node gives the same bytes run to run, but only for the same libtensorflow, CPU model (oneDNN
 * picks kernels per instruction set) and intra-op thread count; GPU runs are not claimed.
 */
import { availableParallelism, cpus } from 'node:os';
import type { BackendName } from './backend.js';

export interface BackendRecord {
  name: BackendName;
  /** libtensorflow's TF_Version, for the native backends. */
  libtensorflow?: string;
  gpu: boolean;
  /** Runs whose signatures are equal give the same bytes (see `reproducible`). */
  signature: string;
  reproducible: 'on any machine' | 'same signature only' | 'not claimed';
}

// Process-wide, not module-wide: the engine runs compiled (dist/) while stage modules import the
// TypeScript sources through tsx, so this file can be loaded twice in one stage process.
const slot = Symbol.for('tailor.usedBackend');
const registry = globalThis as { [slot]?: BackendRecord };

/** The record of a backend this process activated (called by useBackend and the feature pool). */
export function noteBackend(b: { name: BackendName; gpu?: boolean; libtensorflow?: { version: string } }): void {
  registry[slot] = recordOf(b);
}

/** The backend the current stage used, if it loaded one. */
export function usedBackend(): BackendRecord | undefined {
  return registry[slot];
}

/** Forget the record (before the next stage runs in the same process, as in the test harness). */
export function resetUsedBackend(): void {
  registry[slot] = undefined;
}

export function recordOf(b: { name: BackendName; gpu?: boolean; libtensorflow?: { version: string } }): BackendRecord {
  if (b.name === 'wasm' || b.name === 'cpu') {
    return { name: b.name, gpu: false, signature: b.name, reproducible: 'on any machine' };
  }
  const version = b.libtensorflow?.version ?? 'unknown';
  const threads = process.env.TF_NUM_INTRAOP_THREADS ?? String(availableParallelism());
  const onednn = process.env.TF_ENABLE_ONEDNN_OPTS === '0' ? 'oneDNN off' : 'oneDNN on';
  const device = b.gpu ? 'GPU' : (cpus()[0]?.model ?? 'unknown CPU');
  return {
    name: b.name,
    libtensorflow: version,
    gpu: Boolean(b.gpu),
    signature: `${b.name} | libtensorflow ${version} | ${device} | ${threads} intra-op threads | ${onednn}`,
    reproducible: b.gpu ? 'not claimed' : 'same signature only',
  };
}

/**
 * The backend recorded in a stage's metrics: `backend` (this module's record), else the
 * `train.backend` / `fine_tune.backend` names older train-head and fine-tune entries carry.
 */
export function stageBackendOf(
  metrics: Record<string, unknown>,
): { name: string; signature?: string; gpu?: boolean } | undefined {
  const rec = metrics.backend;
  if (rec && typeof rec === 'object' && typeof (rec as BackendRecord).name === 'string') return rec as BackendRecord;
  for (const v of Object.values(metrics)) {
    const name = v && typeof v === 'object' ? (v as { backend?: unknown }).backend : undefined;
    if (typeof name === 'string') return { name };
  }
  return undefined;
}

/**
 * Why the bytes of a lock entry and a fresh run of the same stage cannot be expected to match,
 * given the backends they ran on; undefined when they can (or when neither used a backend).
 */
export function bytesIncomparable(lock: Record<string, unknown>, fresh: Record<string, unknown>): string | undefined {
  const a = stageBackendOf(lock);
  const b = stageBackendOf(fresh);
  if (!a || !b) return undefined;
  if (a.name !== b.name)
    return `lock made on ${a.name}, this run on ${b.name}: bytes differ by backend, metrics decide`;
  if (a.name === 'wasm' || a.name === 'cpu') return undefined;
  if (a.gpu || b.gpu) return `${b.name} on a GPU: same bytes not claimed, metrics decide`;
  if (!a.signature || a.signature !== b.signature) {
    return `${b.name} repeats bytes only for the same libtensorflow, CPU model and thread count (lock: ${a.signature ?? 'not recorded'}; here: ${b.signature ?? 'not recorded'}): metrics decide`;
  }
  return undefined;
}
