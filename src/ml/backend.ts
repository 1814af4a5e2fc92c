/**
 * The one place that picks the TensorFlow.js backend.
 *
 * Order when nothing is forced: `@tensorflow/tfjs-node-gpu` (when it loads and a GPU is assigned)
 * → `@tensorflow/tfjs-node` → `@tensorflow/tfjs-backend-wasm` with SIMD → the pure-JS cpu backend.
 * The two native packages are optionalDependencies: on a machine where their install script could
 * not download libtensorflow they are simply absent, and the reasons say so.
 * A stage param `backend:` (or env `TAILOR_BACKEND`) forces one choice; forcing one that cannot load
 * is an error, not a silent fallback.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';

/** The tfjs namespace (`@tensorflow/tfjs`), the type every ML module receives. */
export type TF = typeof import('@tensorflow/tfjs');

/** Names accepted by the `backend` param. */
export const BACKEND_CHOICES = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** JSON Schema fragment for the `backend` stage param. */
export const BACKEND_PARAM = {
  type: 'string',
  enum: [...BACKEND_CHOICES],
  default: 'auto',
  description: 'TensorFlow.js backend: auto = tfjs-node-gpu, tfjs-node, wasm (SIMD), cpu, the first that loads',
} as const;

export interface Backend {
  /** The backend in use. */
  name: BackendName;
  /** The tfjs namespace with that backend active. */
  tf: TF;
  /** Why each backend before it in the order was not used (empty when the first one loaded). */
  reasons: string[];
  /** Facts about the chosen one (SIMD, threads), for logs and `tailor doctor`. */
  details: string[];
}

const ORDER: BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
let active: Promise<Backend> | undefined;

/**
 * Load tfjs and activate a backend, once per process (tfjs has one global engine, so a second call
 * with another forced choice is an error rather than a silent switch).
 */
export async function useBackend(choice: BackendChoice = envChoice()): Promise<Backend> {
  if (active) {
    const b = await active;
    if (choice !== 'auto' && b.name !== choice)
      throw new Error(`backend ${choice} requested but this process already uses ${b.name}`);
    return b;
  }
  active = pick(choice);
  try {
    return await active;
  } catch (e) {
    active = undefined;
    throw e;
  }
}

function envChoice(): BackendChoice {
  const env = process.env.TAILOR_BACKEND;
  return (BACKEND_CHOICES as readonly string[]).includes(env ?? '') ? (env as BackendChoice) : 'auto';
}

async function pick(choice: BackendChoice): Promise<Backend> {
  const tf = (await import('@tensorflow/tfjs')) as TF;
  const candidates = choice === 'auto' ? ORDER : [choice];
  const reasons: string[] = [];
  for (const name of candidates) {
    const attempt = await tryBackend(tf, name);
    if (attempt.ok) return { name, tf, reasons, details: attempt.details };
    reasons.push(`${name}: ${attempt.why}`);
  }
  throw new Error(`no TensorFlow.js backend could be loaded (${reasons.join('; ')})`);
}

type Attempt = { ok: true; details: string[] } | { ok: false; why: string };

async function tryBackend(tf: TF, name: BackendName): Promise<Attempt> {
  switch (name) {
    case 'tfjs-node-gpu':
    case 'tfjs-node': {
      if (name === 'tfjs-node-gpu' && process.env.CUDA_VISIBLE_DEVICES === '') {
        return { ok: false, why: 'no GPU assigned to this stage (CUDA_VISIBLE_DEVICES is empty)' };
      }
      const pkg = `@tensorflow/${name}`;
      try {
        // A variable specifier: the packages are optional and may be absent at type-check time too.
        await import(pkg);
      } catch (e) {
        return { ok: false, why: notLoaded(pkg, e) };
      }
      if (!(await tf.setBackend('tensorflow')))
        return { ok: false, why: `${pkg} loaded but its backend did not initialise` };
      await tf.ready();
      return { ok: true, details: [`${pkg} (libtensorflow, native threads)`] };
    }
    case 'wasm': {
      try {
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        const dir = wasmDir();
        if (!dir) return { ok: false, why: 'the .wasm binaries were not found next to @tensorflow/tfjs-backend-wasm' };
        // In Node the binaries are read from disk: a folder prefix with a trailing separator.
        wasm.setWasmPaths(dir + '/');
        if (!(await tf.setBackend('wasm'))) return { ok: false, why: 'the wasm backend did not initialise' };
        await tf.ready();
        const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
        const threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
        return {
          ok: true,
          details: [
            `SIMD ${simd ? 'on' : 'off'}`,
            threads ? 'multi-threaded' : 'one thread per process (use workers for more cores)',
          ],
        };
      } catch (e) {
        return { ok: false, why: `failed to start: ${(e as Error).message ?? String(e)}` };
      }
    }
    case 'cpu': {
      if (!(await tf.setBackend('cpu'))) return { ok: false, why: 'the cpu backend did not initialise' };
      await tf.ready();
      return { ok: true, details: ['pure JavaScript, one thread (slow: ~15x wasm)'] };
    }
  }
}

function notLoaded(pkg: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return 'not installed (optional dependency: its install downloads libtensorflow from outside the npm registry)';
  }
  const first = String((e as Error).message ?? e).split('\n')[0] ?? '';
  return `${pkg} failed to load: ${first}`;
}

function wasmDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve('@tensorflow/tfjs-backend-wasm');
    const dir = dirname(main);
    return existsSync(join(dir, 'tfjs-backend-wasm-simd.wasm')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** What `tailor doctor` prints about ML: the backend that would be used and why not the others. */
export interface DoctorReport {
  backend: BackendName | null;
  details: string[];
  reasons: string[];
  versions: Record<string, string | null>;
  error?: string;
}

/** Probe the backend choice (loads tfjs in this process) and list versions of the ML packages. */
export async function doctor(choice: BackendChoice = envChoice()): Promise<DoctorReport> {
  const versions: Record<string, string | null> = {};
  for (const pkg of [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    'nsfwjs',
  ]) {
    versions[pkg] = packageVersion(pkg);
  }
  try {
    const b = await useBackend(choice);
    return { backend: b.name, details: b.details, reasons: b.reasons, versions };
  } catch (e) {
    return { backend: null, details: [], reasons: [], versions, error: (e as Error).message };
  }
}

/** Human-readable lines of a doctor report. */
export function formatDoctor(r: DoctorReport): string[] {
  const lines = [
    r.backend
      ? `ml backend: ${r.backend} (${r.details.join(', ')})`
      : `ml backend: none (${r.error ?? 'unknown error'})`,
  ];
  for (const why of r.reasons) lines.push(`  not used: ${why}`);
  for (const [pkg, v] of Object.entries(r.versions)) lines.push(`  ${pkg}: ${v ?? 'not installed'}`);
  return lines;
}

/** Installed version of a package, or null. Reads its package.json next to its resolved entry. */
export function packageVersion(pkg: string): string | null {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = dirname(require.resolve(pkg));
  } catch {
    return null;
  }
  // Walk up from the entry file to the package's own package.json.
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const json = require(file) as { name?: string; version?: string };
        if (json.name === pkg) return json.version ?? null;
      } catch {
        // unreadable: keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/**
 * One line to log when the engine assigned a GPU (CUDA_VISIBLE_DEVICES set) but the chosen backend
 * cannot use it; undefined otherwise. The engine itself prints the notice when no GPU was free.
 */
export function gpuNotice(b: Backend): string | undefined {
  const assigned = process.env.CUDA_VISIBLE_DEVICES;
  if (!assigned || b.name === 'tfjs-node-gpu') return undefined;
  return `GPU ${assigned} assigned but not usable from TensorFlow.js here: running on ${b.name} (${b.reasons[0] ?? 'forced'})`;
}
