/**
 * Turning batches of image files into backbone outputs on one thread: decode (sharp, async, so the
 * next batch decodes while this one runs through the network), preprocess, run the backbone, copy
 * the outputs out. Used inside each worker thread of the pool and, with `workers: 0`, in-process.
 */
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { useBackend, type BackendChoice, type BackendName } from './backend.js';
import { loadBackbone, type Backbone, type BackboneSpec } from './backbones.js';
import { decodeRgb, preprocessInto } from './image-input.js';
import { sizeOf } from './graph.js';

/**
 * Horizontal flips: `none`; `average` the outputs of the image and its mirror (test-time
 * augmentation, one row per image); `both` keep both as separate rows (training augmentation,
 * two rows per image: original then mirrored).
 */
export type FlipMode = 'none' | 'average' | 'both';

export interface EngineConfig {
  backend: BackendChoice;
  spec: BackboneSpec;
  cacheDir: string;
  /** Graph nodes to return (default: the feature vector). */
  outputs?: string[];
  flip: FlipMode;
}

export interface EngineInfo {
  backend: BackendName;
  reasons: string[];
  backboneId: string;
  /** Values per row of each output. */
  dims: number[];
  fromCache: boolean;
  logs: string[];
}

export interface BatchResult {
  /** One array per output: rows x dims[i], rows = images (x2 with flip 'both'). */
  values: Float32Array[];
  /** Per image: why it could not be used, or null. Its rows are zeros. */
  errors: Array<string | null>;
}

export class FeatureEngine {
  private constructor(
    private readonly tf: Awaited<ReturnType<typeof useBackend>>['tf'],
    private readonly backbone: Backbone,
    private readonly outputs: string[] | undefined,
    private readonly flip: FlipMode,
    readonly info: EngineInfo,
  ) {}

  static async create(cfg: EngineConfig): Promise<FeatureEngine> {
    const b = await useBackend(cfg.backend);
    const logs: string[] = [];
    const backbone = await loadBackbone(b.tf, cfg.spec, { cacheDir: cfg.cacheDir, log: (m) => logs.push(m) });
    let dims: number[];
    if (cfg.outputs) {
      if (!backbone.graph) throw new Error(`backbone ${backbone.name} cannot be folded, so its inner layers are not available`);
      const byId = new Map(backbone.graph.nodes.map((n) => [n.id, n]));
      dims = cfg.outputs.map((o) => {
        const n = byId.get(o);
        if (!n) throw new Error(`backbone ${backbone.name} has no node ${o}`);
        return sizeOf(n.shape);
      });
    } else {
      dims = [backbone.featureDim];
    }
    const info: EngineInfo = { backend: b.name, reasons: b.reasons, backboneId: backbone.id, dims, fromCache: backbone.fromCache, logs };
    return new FeatureEngine(b.tf, backbone, cfg.outputs, cfg.flip, info);
  }

  /** Start decoding now; the returned promise resolves to pixel rows (or errors) for `run`. */
  decode(images: Uint8Array[]): Promise<Array<Uint8Array | Error>> {
    const size = this.backbone.inputSize;
    return Promise.all(images.map((bytes) => decodeRgb(bytes, size).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
  }

  /** Run decoded images through the backbone. */
  run(decoded: Array<Uint8Array | Error>): BatchResult {
    const { tf, backbone } = this;
    const size = backbone.inputSize;
    const per = size * size * 3;
    const n = decoded.length;
    const pixels = new Float32Array(n * per);
    const errors = decoded.map((d, i) => {
      if (d instanceof Error) return `decode: ${d.message}`;
      preprocessInto(d, backbone.preprocess, pixels, i * per);
      return null;
    });
    const rowsPer = this.flip === 'both' ? 2 : 1;
    const values = tf.tidy(() => {
      const x = tf.tensor4d(pixels, [n, size, size, 3]);
      const input = this.flip === 'none' ? x : (tf.concat([x, tf.reverse(x, 2)], 0) as Tensor4D);
      const outs = backbone.run(input, this.outputs);
      return outs.map((o) => {
        const flat = tf.reshape(o, [input.shape[0], -1]);
        if (this.flip === 'none') return flat;
        const [a, b] = tf.split(flat, 2, 0) as [Tensor, Tensor];
        if (this.flip === 'average') return tf.div(tf.add(a, b), 2);
        // Interleave: original then mirrored for each image.
        return tf.reshape(tf.stack([a, b], 1), [n * 2, -1]);
      });
    });
    const arrays = values.map((t) => {
      const a = t.dataSync() as Float32Array;
      t.dispose();
      return new Float32Array(a);
    });
    // Failed images must not carry whatever the zero input produced.
    errors.forEach((e, i) => {
      if (!e) return;
      arrays.forEach((a, k) => a.fill(0, i * rowsPer * this.info.dims[k]!, (i + 1) * rowsPer * this.info.dims[k]!));
    });
    return { values: arrays, errors };
  }

  dispose(): void {
    this.backbone.dispose();
  }
}
