/**
 * TensorFlow.js models on the local file system, without tfjs-node: the browser build of tfjs has no
 * `file://` handler, so these read and write the standard layout (`model.json` + one `weights.bin`)
 * through `tf.io.fromMemory` / `tf.io.withSaveHandler`. Writes are atomic (temp folder + rename), so
 * two processes filling the same cache entry never leave a half-written model.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import type { io } from '@tensorflow/tfjs';
import type { TF } from './backend.js';

export const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

/** Concatenate tfjs weight data (one buffer or a list of them) into one Buffer. */
export function weightBytes(data: io.WeightData | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  const parts = Array.isArray(data) ? data : [data];
  return Buffer.concat(parts.map((b) => Buffer.from(b)));
}

/** Write model artifacts to `dir` (created; replaced atomically if it exists). */
export async function writeArtifacts(
  dir: string,
  artifacts: io.ModelArtifacts,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  const bytes = weightBytes(artifacts.weightData);
  const json: Record<string, unknown> = {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'tailor',
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
    ...extra,
  };
  if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
  await writeFile(join(tmp, WEIGHTS_BIN), bytes);
  await writeFile(join(tmp, MODEL_JSON), JSON.stringify(json));
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  try {
    await rename(tmp, dir);
  } catch (e) {
    // Another process won the race and wrote the same entry: keep theirs.
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, MODEL_JSON))) throw e;
  }
}

/** A tfjs save handler writing into `dir`. */
export function dirSaveHandler(tf: TF, dir: string, extra: Record<string, unknown> = {}): io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    await writeArtifacts(dir, artifacts, extra);
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: 'JSON',
        weightDataBytes: weightBytes(artifacts.weightData).length,
      },
    };
  });
}

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: object;
  weightsManifest?: Array<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
  userDefinedMetadata?: Record<string, unknown>;
  trainingConfig?: io.TrainingConfig;
  [key: string]: unknown;
}

/**
 * Read `model.json` (a path to the file or its folder) and its weight files into artifacts.
 * Weight paths must stay inside the model's folder: a manifest is data, never a way to read elsewhere.
 */
export async function readArtifacts(
  path: string,
): Promise<{ artifacts: io.ModelArtifacts; json: ModelJson; file: string }> {
  const file = path.endsWith('.json') ? path : join(path, MODEL_JSON);
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as ModelJson;
  } catch (e) {
    throw new Error(`${file}: cannot read model: ${(e as Error).message}`);
  }
  if (!json.modelTopology) throw new Error(`${file}: no modelTopology (not a TensorFlow.js model.json)`);
  const base = dirname(resolve(file));
  const chunks: Buffer[] = [];
  const weightSpecs: io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) {
      const abs = resolve(base, p);
      const rel = relative(base, abs);
      if (rel.startsWith('..') || isAbsolute(rel))
        throw new Error(`${file}: weight path ${JSON.stringify(p)} leaves the model folder`);
      chunks.push(await readFile(abs));
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(chunks);
  const artifacts: io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy ?? undefined,
    userDefinedMetadata: json.userDefinedMetadata as io.ModelArtifacts['userDefinedMetadata'],
    trainingConfig: json.trainingConfig,
  };
  return { artifacts, json, file };
}
