/**
 * The pretrained CNNs that ship inside npm `nsfwjs@4` (MIT), read from the installed package's
 * files, never from a URL. Each model is a UMD bundle exporting its `model.json` object, and each
 * weight shard a bundle exporting the shard's bytes as base64 (uint8-quantised weights).
 * Decoding with Buffer takes a second even for InceptionV3 (nsfwjs' own loader, a per-character
 * loop, takes about 40 s).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { io } from '@tensorflow/tfjs';
import { packageVersion } from './backend.js';

export interface NsfwjsModelInfo {
  /** Folder under nsfwjs/dist/models. */
  dir: string;
  /** Square input side in pixels. */
  size: number;
  /** Keras LayersModel or a TF graph model. */
  format: 'layers-model' | 'graph-model';
  /** For graph models: the node whose output is the pooled feature vector. */
  featureNode?: string;
}

export const NSFWJS_MODELS = {
  mobilenet_v2: { dir: 'mobilenet_v2', size: 224, format: 'layers-model' },
  mobilenet_v2_mid: {
    dir: 'mobilenet_v2_mid',
    size: 224,
    format: 'graph-model',
    featureNode:
      'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/feature_vector/SpatialSqueeze',
  },
  inception_v3: { dir: 'inception_v3', size: 299, format: 'layers-model' },
} as const satisfies Record<string, NsfwjsModelInfo>;

export type NsfwjsModelName = keyof typeof NSFWJS_MODELS;

export function isNsfwjsModel(name: string): name is NsfwjsModelName {
  return Object.hasOwn(NSFWJS_MODELS, name);
}

/** Installed nsfwjs version (part of every cache key of a converted model). */
export function nsfwjsVersion(): string {
  const v = packageVersion('nsfwjs');
  if (!v) throw new Error('npm package nsfwjs is not installed (it ships the pretrained backbones)');
  return v;
}

function modelsDir(): string {
  const require = createRequire(import.meta.url);
  // The package's main is dist/cjs/index.js; the model bundles live in dist/models.
  const dir = join(dirname(require.resolve('nsfwjs')), '..', 'models');
  if (!existsSync(dir)) throw new Error(`nsfwjs models folder not found at ${dir}`);
  return dir;
}

interface BundledModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
}

/** Read one nsfwjs model's artifacts (topology + quantised weights) from the installed package. */
export function readNsfwjsArtifacts(name: NsfwjsModelName): io.ModelArtifacts {
  const require = createRequire(import.meta.url);
  const dir = join(modelsDir(), NSFWJS_MODELS[name].dir);
  const load = (file: string): unknown => {
    const path = join(dir, file);
    const value = require(path) as unknown;
    // The bundles are tens of MB of source; do not keep them in require's cache.
    Reflect.deleteProperty(require.cache, require.resolve(path));
    return value;
  };
  const json = load('model.min.js') as BundledModelJson;
  const chunks: Buffer[] = [];
  const weightSpecs: io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const b64 = load(`${p}.min.js`);
      if (typeof b64 !== 'string') throw new Error(`nsfwjs ${name}: shard ${p} is not base64 text`);
      chunks.push(Buffer.from(b64, 'base64'));
    }
    weightSpecs.push(...group.weights);
  }
  const all = Buffer.concat(chunks);
  return {
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
  };
}
