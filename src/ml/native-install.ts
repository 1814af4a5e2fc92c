/**
 * What the install step (scripts/native-backend.mjs) recorded about the native TensorFlow backend,
 * and whether a native package's binding is on disk: read without loading libtensorflow, so the
 * engine, `tailor doctor` and the tests can ask cheaply and a worker never imports a package whose
 * binding is missing (a failed import still registers its kernels and floods the log).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TAILOR_ROOT } from '../paths.js';

export type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';

/** The marker file the install step writes (node_modules/.cache/tailor/native-backend.json). */
export interface NativeInstall {
  status: 'ok' | 'failed' | 'disabled';
  /** Why it is not installed (failed, disabled). */
  reason?: string;
  package?: NativePackage;
  variant?: 'cpu' | 'gpu';
  /** Whether TensorFlow used a GPU device when the install step probed the built package. */
  gpu?: boolean;
  libtensorflow?: { version: string; dir: string; source: string; sha256: string | null };
  seconds?: number;
  at?: string;
}

export function nativeInstallFile(root = TAILOR_ROOT): string {
  return join(root, 'node_modules', '.cache', 'tailor', 'native-backend.json');
}

/** The recorded outcome of the install step, or undefined when it never ran here. */
export function readNativeInstall(root = TAILOR_ROOT): NativeInstall | undefined {
  try {
    return JSON.parse(readFileSync(nativeInstallFile(root), 'utf8')) as NativeInstall;
  } catch {
    return undefined;
  }
}

/**
 * Path of the package's built binding, where node-pre-gyp looks for it (the highest N-API version
 * the package lists that this Node supports), or undefined when the package or binding is absent.
 */
export function nativeBindingFile(pkg: NativePackage, root = TAILOR_ROOT): string | undefined {
  const dir = join(root, 'node_modules', ...pkg.split('/'));
  let binary: { module_name: string; module_path: string; napi_versions?: number[] };
  try {
    binary = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { binary: typeof binary }).binary;
  } catch {
    return undefined;
  }
  const napi = Number(process.versions.napi);
  const fits = (binary.napi_versions ?? []).map(Number).filter((v) => v <= napi);
  if (fits.length === 0) return undefined;
  const file = join(
    dir,
    binary.module_path.replace('{napi_build_version}', String(Math.max(...fits))),
    `${binary.module_name}.node`,
  );
  return existsSync(file) ? file : undefined;
}

/** Why a native package cannot be tried here (its binding is not built), or undefined when it can. */
export function nativeUnavailable(pkg: NativePackage, root = TAILOR_ROOT): string | undefined {
  if (nativeBindingFile(pkg, root)) return undefined;
  const installed = existsSync(join(root, 'node_modules', ...pkg.split('/'), 'package.json'));
  const rec = readNativeInstall(root);
  const step = !rec
    ? 'the install step has not run here (npm run native-backend)'
    : rec.status === 'ok'
      ? `the install step built ${rec.package} instead`
      : `install step ${rec.status}: ${rec.reason ?? 'no reason recorded'}`;
  return `${installed ? 'binding not built' : 'not installed'} (${step})`;
}
