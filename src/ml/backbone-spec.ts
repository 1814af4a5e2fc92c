/**
 * From backbone params to what the ML code runs: the BackboneSpec, the worker count, and where
 * converted models are cached.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { codeScopedDir } from '../stage-kit/state.js';
import type { BackboneParams } from './backbone-params.js';
import { mayBeNative, type BackendChoice } from './backend.js';
import type { BackboneSpec } from './backbones.js';
import { BUILTIN_BACKBONES } from './choices.js';

/** The BackboneSpec named by the params; a path is resolved from the working folder. */
export function backboneSpec(p: BackboneParams, workdir: string, seed: number): BackboneSpec {
  const builtin = (BUILTIN_BACKBONES as readonly string[]).includes(p.backbone);
  return {
    name: builtin ? p.backbone : isAbsolute(p.backbone) ? p.backbone : resolve(workdir, p.backbone),
    inputSize: p.input_size,
    preprocess: p.preprocess,
    cutLayer: p.cut_layer,
    seed,
  };
}

/** Worker threads to use for a backend. */
export function workerCount(p: BackboneParams, backend: string): number {
  return p.workers === 'auto' ? defaultWorkers(backend) : p.workers;
}

/**
 * Where converted backbones are cached, under the stage's code key (conversion code that changes
 * never serves an old conversion): `$TAILOR_MODELS`, else `$TAILOR_CACHE/models` (shared by the
 * stages of one code), else a `models` folder in the stage's state (then each stage keeps its own
 * copy, and copies of older code are removed). Never a param: the location must not change a
 * stage's key.
 */
export async function modelCacheDir(ctx: { state: string; codeKey: string }): Promise<string> {
  const shared = process.env.TAILOR_MODELS ?? (process.env.TAILOR_CACHE && join(process.env.TAILOR_CACHE, 'models'));
  if (shared) return codeScopedDir({ state: resolve(shared), codeKey: ctx.codeKey }, 'by-code', { keepOthers: true });
  return codeScopedDir(ctx, 'models');
}

/**
 * Default worker count: in-process (0) for the native backends (libtensorflow already uses every
 * core or the GPU, and loads once per process), else one per core. With `auto` a built native
 * binding decides (see FeaturePool, which also keeps a native backend in-process).
 */
export function defaultWorkers(backend: string): number {
  return mayBeNative(backend as BackendChoice) ? 0 : Math.max(1, availableParallelism());
}
