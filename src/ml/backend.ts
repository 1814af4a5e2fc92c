/**
 * The one place that picks the TensorFlow.js backend.
 *
 * Order when nothing is forced: `@tensorflow/tfjs-node-gpu` → `@tensorflow/tfjs-node` →
 * `@tensorflow/tfjs-backend-wasm` with SIMD → the pure-JS cpu backend. The native packages are
 * built by tailor's install step (scripts/native-backend.mjs) on libtensorflow from the TensorFlow
 * wheel; a package whose binding is not built is not even imported (the reason comes from the
 * install step's record). libtensorflow loads once per process (tensorflow/tfjs#2079), so native
 * backends are never chosen inside a worker thread: worker threads get wasm, and the feature pool
 * runs in-process on a native backend.
 * A stage param `backend:` (or env `TAILOR_BACKEND`) forces one choice; forcing one that cannot load
 * is an error, not a silent fallback.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, realpathSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { nativeUnavailable, readNativeInstall, type NativePackage } from './native-install.js';
import { quietTensorFlow } from './tf-log.js';
import { noteBackend } from './backend-record.js';

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
  /** Facts about the chosen one (SIMD, threads, libtensorflow), for logs and `tailor doctor`. */
  details: string[];
  /** Whether a GPU device does the work (tfjs-node-gpu with a GPU TensorFlow can see). */
  gpu: boolean;
  /** The native library behind tfjs-node(-gpu): its TF_Version and folder. */
  libtensorflow?: { version: string; dir: string };
}

/** True for the backends that run on libtensorflow. */
export function isNative(name: BackendName): name is 'tfjs-node' | 'tfjs-node-gpu' {
  return name === 'tfjs-node' || name === 'tfjs-node-gpu';
}

const ORDER: BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
let active: Promise<Backend> | undefined;

/**
 * Load tfjs and activate a backend, once per process (tfjs has one global engine, so a second call
 * with another forced choice is an error rather than a silent switch).
 */
export async function useBackend(asked: BackendChoice = 'auto'): Promise<Backend> {
  const choice = resolveChoice(asked);
  if (active) {
    const b = await active;
    if (choice !== 'auto' && b.name !== choice)
      throw new Error(`backend ${choice} requested but this process already uses ${b.name}`);
    noteBackend(b);
    return b;
  }
  active = pick(choice);
  try {
    const b = await active;
    noteBackend(b);
    return b;
  } catch (e) {
    active = undefined;
    throw e;
  }
}

/** The backend this process already activated, if any (no loading). */
export async function activeBackend(): Promise<Backend | undefined> {
  return active?.catch(() => undefined);
}

/** `auto` means TAILOR_BACKEND when it is set (a stage param naming a backend wins over it). */
export function resolveChoice(choice: BackendChoice): BackendChoice {
  return choice === 'auto' ? envChoice() : choice;
}

export function envChoice(): BackendChoice {
  const env = process.env.TAILOR_BACKEND;
  return (BACKEND_CHOICES as readonly string[]).includes(env ?? '') ? (env as BackendChoice) : 'auto';
}

/**
 * Whether `choice` may end on a native backend in this process: forced native, or auto with a
 * native binding built (cheap: no loading). Decides whether the feature pool may use workers.
 */
export function mayBeNative(asked: BackendChoice): boolean {
  const choice = resolveChoice(asked);
  if (choice === 'tfjs-node' || choice === 'tfjs-node-gpu') return true;
  if (choice !== 'auto' || !isMainThread) return false;
  return !nativeUnavailable('@tensorflow/tfjs-node') || !nativeUnavailable('@tensorflow/tfjs-node-gpu');
}

async function pick(choice: BackendChoice): Promise<Backend> {
  const tf = (await import('@tensorflow/tfjs')) as TF;
  const candidates = choice === 'auto' ? ORDER : [choice];
  const reasons: string[] = [];
  for (const name of candidates) {
    const attempt = await tryBackend(tf, name);
    if (attempt.ok)
      return { name, tf, reasons, details: attempt.details, gpu: attempt.gpu ?? false, libtensorflow: attempt.lib };
    reasons.push(`${name}: ${attempt.why}`);
  }
  throw new Error(`no TensorFlow.js backend could be loaded (${reasons.join('; ')})`);
}

type Attempt =
  { ok: true; details: string[]; gpu?: boolean; lib?: { version: string; dir: string } } | { ok: false; why: string };

async function tryBackend(tf: TF, name: BackendName): Promise<Attempt> {
  switch (name) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      return tryNative(tf, name);
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

interface NativeKernelBackend {
  binding: { TF_Version: string };
  isUsingGpuDevice: boolean;
}

async function tryNative(tf: TF, name: 'tfjs-node' | 'tfjs-node-gpu'): Promise<Attempt> {
  const pkg: NativePackage = `@tensorflow/${name}`;
  if (!isMainThread) {
    return {
      ok: false,
      why: 'not loaded in a worker thread (libtensorflow loads once per process, tensorflow/tfjs#2079)',
    };
  }
  const missing = nativeUnavailable(pkg);
  if (missing) return { ok: false, why: missing };
  const noGpuAssigned = process.env.CUDA_VISIBLE_DEVICES === '';
  if (name === 'tfjs-node-gpu' && noGpuAssigned && nativeUnavailable('@tensorflow/tfjs-node') === undefined) {
    return { ok: false, why: 'no GPU assigned to this stage (CUDA_VISIBLE_DEVICES is empty): the CPU build is next' };
  }
  quietTensorFlow();
  try {
    // A variable specifier: the packages are optional and may be absent at type-check time too.
    await import(pkg);
  } catch (e) {
    return { ok: false, why: notLoaded(pkg, e) };
  }
  if (!(await tf.setBackend('tensorflow')))
    return { ok: false, why: `${pkg} loaded but its backend did not initialise` };
  await tf.ready();
  const kb = tf.backend() as unknown as NativeKernelBackend;
  const lib = { version: kb.binding.TF_Version, dir: libtensorflowDir(pkg) };
  const gpu = Boolean(kb.isUsingGpuDevice);
  return {
    ok: true,
    gpu,
    lib,
    details: [
      `libtensorflow ${lib.version} from ${lib.dir}`,
      gpu ? 'GPU' : name === 'tfjs-node-gpu' ? 'no GPU visible: CPU' : 'CPU',
      `oneDNN ${process.env.TF_ENABLE_ONEDNN_OPTS === '0' ? 'off' : 'on'}`,
      `threads: intra-op ${process.env.TF_NUM_INTRAOP_THREADS ?? 'all cores'}, inter-op ${process.env.TF_NUM_INTEROP_THREADS ?? 'all cores'}`,
    ],
  };
}

/** Where the binding's libtensorflow really lives (deps/lib links into the install step's cache). */
function libtensorflowDir(pkg: NativePackage): string {
  const rec = readNativeInstall();
  if (rec?.status === 'ok' && rec.package === pkg && rec.libtensorflow) return rec.libtensorflow.dir;
  try {
    const require = createRequire(import.meta.url);
    const lib = join(dirname(require.resolve(`${pkg}/package.json`)), 'deps', 'lib', 'libtensorflow.so');
    return dirname(realpathSync(lib));
  } catch {
    return 'unknown';
  }
}

function notLoaded(pkg: string, e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
    return "not installed (optional dependency; tailor's install step builds it: npm run native-backend)";
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
  if (!assigned || b.gpu) return undefined;
  return `GPU ${assigned} assigned but not usable from TensorFlow.js here: running on ${b.name} (${b.reasons[0] ?? 'forced'})`;
}
