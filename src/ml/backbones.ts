/**
 * Backbones: pretrained CNN trunks that turn an image into a feature vector.
 *
 *  - `mobilenet_v2`, `mobilenet_v2_mid`, `inception_v3`: the models inside npm nsfwjs@4, cut at
 *    their global pooling. The cut model is cached as a standard TensorFlow.js artifact
 *    (model.json + weights.bin) under `<cacheDir>/nsfwjs-<version>/<name>-cut`, so later loads skip
 *    the bundles.
 *  - a path to any TensorFlow.js LayersModel `model.json`, with its input size and preprocessing.
 *  - `tiny`: a seeded CNN built in code, for tests.
 * Keras trunks are folded (graph.ts) for faster inference and so their last layers can be trained
 * on wasm; a model with layers the folder does not know runs as the plain LayersModel instead.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GraphModel, LayersModel, Tensor, Tensor4D } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { type Graph, sizeOf } from './graph.js';
import { evaluate, uploadWeights, type GraphWeights } from './graph-infer.js';
import { BUILTIN_BACKBONES, type Preprocess } from './choices.js';
import { UnsupportedLayerError, findPoolingCut, foldKerasModel } from './keras-fold.js';
import { MODEL_JSON, dirSaveHandler, readArtifacts } from './model-io.js';
import {
  NSFWJS_MODELS,
  isNsfwjsModel,
  nsfwjsVersion,
  readNsfwjsArtifacts,
  type NsfwjsModelName,
} from './nsfwjs-models.js';
import { tinyGraph } from './tiny-backbone.js';

export { BUILTIN_BACKBONES };

export interface BackboneSpec {
  /** A built-in name or an absolute path to a LayersModel's model.json (or its folder). */
  name: string;
  /** Square input side; defaults: 224/299 for nsfwjs models, 32 for tiny; required for a path. */
  inputSize?: number;
  /** Pixel scaling; defaults to 'unit' ([0, 1], what the nsfwjs models were trained with). */
  preprocess?: Preprocess;
  /** For a path: the layer whose output is the feature (default: its global pooling). */
  cutLayer?: string;
  /** Seed of the tiny backbone's weights. */
  seed?: number;
}

export interface Backbone {
  /** Identifies weights, cut, input size and preprocessing: part of every feature cache key. */
  id: string;
  name: string;
  inputSize: number;
  preprocess: Preprocess;
  featureDim: number;
  /** The folded trunk, when the model could be folded (needed for fine-tuning on wasm). */
  graph: Graph | null;
  /**
   * Run a preprocessed batch [b, size, size, 3]; returns the requested graph nodes' values
   * (default: the feature vector [b, dim]). Node ids other than the feature need a folded graph.
   */
  run(x: Tensor4D, outputs?: string[]): Tensor[];
  dispose(): void;
  /** Whether the cut model came from the cache. */
  fromCache: boolean;
}

export interface LoadOptions {
  /** Folder for converted models (created when needed). */
  cacheDir: string;
  log?: (message: string) => void;
}

export interface BackboneIdentity {
  id: string;
  name: string;
  inputSize: number;
  preprocess: Preprocess;
  /** Whether it folds into a graph (inner layers available); unknown for a path until loaded. */
  foldable?: boolean;
}

/**
 * A backbone's identity without loading it (no tfjs needed): what feature caches are keyed by.
 * For a model given by path the id hashes its model.json and weights.
 */
export async function describeBackbone(spec: BackboneSpec): Promise<BackboneIdentity> {
  const preprocess = spec.preprocess ?? 'unit';
  if (spec.name === 'tiny') {
    const size = spec.inputSize ?? 32;
    return {
      id: `tiny/seed-${spec.seed ?? 0}/${size}/${preprocess}`,
      name: 'tiny',
      inputSize: size,
      preprocess,
      foldable: true,
    };
  }
  if (isNsfwjsModel(spec.name)) {
    const info = NSFWJS_MODELS[spec.name];
    const size = spec.inputSize ?? info.size;
    if (size !== info.size) throw new Error(`${spec.name} takes ${info.size}x${info.size} inputs, not ${size}`);
    return {
      id: `nsfwjs-${nsfwjsVersion()}/${spec.name}/${size}/${preprocess}`,
      name: spec.name,
      inputSize: size,
      preprocess,
      foldable: info.format === 'layers-model',
    };
  }
  if (!spec.inputSize) throw new Error(`backbone ${spec.name}: input_size is required for a model given by path`);
  const { artifacts, file } = await readArtifacts(spec.name);
  // Identity by content: the same model copied elsewhere reuses cached features.
  const hash = createHash('sha256')
    .update(await readFile(file))
    .update(Buffer.from(weightsOf(artifacts)))
    .digest('hex')
    .slice(0, 16);
  return {
    id: `user-${hash}/${spec.cutLayer ?? 'pool'}/${spec.inputSize}/${preprocess}`,
    name: file,
    inputSize: spec.inputSize,
    preprocess,
  };
}

/**
 * Whether loading the backbone would convert (and cache) a model first: then one loader should
 * go first and the others read its cache.
 */
export function needsConversion(spec: BackboneSpec, cacheDir: string): boolean {
  return (
    isNsfwjsModel(spec.name) && !existsSync(join(cacheDir, `nsfwjs-${nsfwjsVersion()}`, `${spec.name}-cut`, MODEL_JSON))
  );
}

/** Load a backbone on the active backend. */
export async function loadBackbone(tf: TF, spec: BackboneSpec, opts: LoadOptions): Promise<Backbone> {
  const ident = await describeBackbone(spec);
  if (spec.name === 'tiny')
    return fromGraph(tf, tinyGraph(ident.inputSize, spec.seed ?? 0), { ...ident, fromCache: false });
  if (isNsfwjsModel(spec.name)) return loadNsfwjs(tf, spec.name, ident, opts);
  return loadUserModel(tf, spec, ident);
}

function fromGraph(
  tf: TF,
  graph: Graph,
  meta: Pick<Backbone, 'id' | 'name' | 'inputSize' | 'preprocess' | 'fromCache'>,
): Backbone {
  const weights: GraphWeights = uploadWeights(tf, graph.nodes);
  const input = graph.nodes[0]!.id;
  const out = graph.nodes.find((n) => n.id === graph.output)!;
  return {
    ...meta,
    featureDim: sizeOf(out.shape),
    graph,
    run: (x, outputs = [graph.output]) => evaluate(tf, graph, weights, new Map([[input, x]]), outputs),
    dispose: () => weights.dispose(),
  };
}

function fromLayers(
  tf: TF,
  model: LayersModel,
  meta: Pick<Backbone, 'id' | 'name' | 'inputSize' | 'preprocess' | 'fromCache'>,
  cutLayer: string | undefined,
  log?: (m: string) => void,
): Backbone {
  try {
    const graph = foldKerasModel(model, cutLayer);
    model.dispose();
    return fromGraph(tf, graph, meta);
  } catch (e) {
    if (!(e instanceof UnsupportedLayerError)) throw e;
    log?.(`${meta.name}: running as a plain LayersModel (${e.message}); fine-tuning it is not possible on wasm`);
  }
  const cut = cutLayer ?? findPoolingCut(model);
  const trunk = tf.model({ inputs: model.inputs, outputs: model.getLayer(cut).output as never, name: 'trunk' });
  const dim = (trunk.outputs[0]!.shape as number[]).slice(1).reduce((a, b) => a * b, 1);
  return {
    ...meta,
    featureDim: dim,
    graph: null,
    run: (x, outputs) => {
      if (outputs && outputs.some((o) => o !== cut))
        throw new Error(`${meta.name} is not foldable: only its feature output is available`);
      return [tf.reshape(trunk.predict(x) as Tensor, [x.shape[0], dim])];
    },
    dispose: () => model.dispose(),
  };
}

async function loadNsfwjs(tf: TF, name: NsfwjsModelName, meta: BackboneIdentity, opts: LoadOptions): Promise<Backbone> {
  const info = NSFWJS_MODELS[name];
  const version = nsfwjsVersion();
  const size = meta.inputSize;
  const entry = join(opts.cacheDir, `nsfwjs-${version}`, `${name}-cut`);
  const cached = existsSync(join(entry, MODEL_JSON));

  if (info.format === 'graph-model') {
    const artifacts = cached ? (await readArtifacts(entry)).artifacts : readNsfwjsArtifacts(name);
    const model: GraphModel = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    if (!cached) {
      await model.save(dirSaveHandler(tf, entry));
      opts.log?.(`cached ${name} as ${entry}`);
    }
    const featureNode = info.featureNode;
    const probe = tf.tidy(() => model.execute(tf.zeros([1, size, size, 3]), featureNode) as Tensor);
    const dim = probe.shape[1] ?? 0;
    probe.dispose();
    return {
      ...meta,
      fromCache: cached,
      featureDim: dim,
      graph: null,
      run: (x, outputs) => {
        if (outputs && outputs.some((o) => o !== featureNode))
          throw new Error(
            `${name} is a graph model: only its feature output is available (fine-tune mobilenet_v2 or inception_v3)`,
          );
        return [model.execute(x, featureNode) as Tensor];
      },
      dispose: () => model.dispose(),
    };
  }

  let model: LayersModel;
  if (cached) {
    model = await tf.loadLayersModel(tf.io.fromMemory((await readArtifacts(entry)).artifacts));
  } else {
    const full = await tf.loadLayersModel(tf.io.fromMemory(readNsfwjsArtifacts(name)));
    const cutName = findPoolingCut(full);
    model = tf.model({ inputs: full.inputs, outputs: full.getLayer(cutName).output as never, name: 'trunk' });
    await model.save(dirSaveHandler(tf, entry, { tailor: { source: `nsfwjs@${version}/${name}`, cut: cutName } }));
    opts.log?.(`cached the ${name} trunk (cut at ${cutName}) as ${entry}`);
  }
  return fromLayers(tf, model, { ...meta, fromCache: cached }, undefined, opts.log);
}

async function loadUserModel(tf: TF, spec: BackboneSpec, ident: BackboneIdentity): Promise<Backbone> {
  const { artifacts, file } = await readArtifacts(spec.name);
  if (artifacts.format === 'graph-model')
    throw new Error(`${file}: a graph model; a user backbone must be a LayersModel (Keras) model.json`);
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const shape = model.inputs[0]!.shape;
  if (shape[1] !== null && shape[1] !== ident.inputSize)
    throw new Error(`${file}: the model takes ${shape[1]}x${shape[2]} inputs, input_size is ${ident.inputSize}`);
  return fromLayers(tf, model, { ...ident, fromCache: false }, spec.cutLayer);
}

function weightsOf(a: { weightData?: ArrayBuffer | ArrayBuffer[] }): Uint8Array {
  const d = a.weightData;
  if (!d) return new Uint8Array(0);
  return Array.isArray(d) ? Buffer.concat(d.map((b) => Buffer.from(b))) : new Uint8Array(d);
}
