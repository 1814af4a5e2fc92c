/**
 * Running batches of images through a backbone on one thread: decode (sharp, async, so the next
 * batch decodes while this one runs through the network), preprocess, run the backbone, copy the
 * outputs out. One runs inside each worker thread of the feature pool (feature-pool.ts,
 * feature-worker.ts) and, with `workers: 0`, in-process.
 */
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { useBackend, type BackendChoice, type BackendName } from './backend.js';
import { loadBackbone, type Backbone, type BackboneSpec } from './backbones.js';
import { decodeRgb, preprocessInto } from './image-input.js';
import { sizeOf } from './graph.js';
import { stageEnds } from './graph-train.js';

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
  /**
   * What to return per image, one array per group: a group of one node without `pool` is that
   * node's value (e.g. an inner activation map); with `pool`, each node's map is averaged over
   * space and the results are joined. Default: the feature vector.
   */
  outputs?: OutputGroup[];
  /**
   * Return one vector per image: the global average of the end of every resolution stage,
   * joined before the final feature (colour and texture live in the early stages; the final
   * pooled feature alone has mostly abstracted them away).
   */
  multiscale?: boolean;
  flip: FlipMode;
}

export interface OutputGroup {
  nodes: string[];
  pool: boolean;
}

export interface EngineInfo {
  backend: BackendName;
  reasons: string[];
  backboneId: string;
  /** Values per row of each output. */
  dims: number[];
  /** Whether the rows are multi-scale (requested and possible). */
  multiscale: boolean;
  fromCache: boolean;
  logs: string[];
}

export interface BatchResult {
  /** One array per output: rows x dims[i], rows = images (x2 with flip 'both'). */
  values: Float32Array[];
  /** Per image: why it could not be used, or null. Its rows are zeros. */
  errors: Array<string | null>;
}

export class BackboneRunner {
  private constructor(
    private readonly tf: Awaited<ReturnType<typeof useBackend>>['tf'],
    private readonly backbone: Backbone,
    private readonly groups: OutputGroup[] | undefined,
    private readonly flip: FlipMode,
    readonly info: EngineInfo,
  ) {}

  static async create(cfg: EngineConfig): Promise<BackboneRunner> {
    const b = await useBackend(cfg.backend);
    const logs: string[] = [];
    const backbone = await loadBackbone(b.tf, cfg.spec, { cacheDir: cfg.cacheDir, log: (m) => logs.push(m) });
    let groups = cfg.outputs;
    if (cfg.multiscale) {
      if (cfg.outputs) throw new Error('internal error: multiscale with explicit outputs');
      if (backbone.graph) groups = [{ nodes: [...stageEnds(backbone.graph), backbone.graph.output], pool: true }];
      else
        logs.push(
          `${backbone.name} cannot be folded: multi-scale pooling is not available, using its final feature only`,
        );
    }
    let dims = [backbone.featureDim];
    if (groups) {
      const g = backbone.graph;
      if (!g) throw new Error(`backbone ${backbone.name} cannot be folded, so its inner layers are not available`);
      const byId = new Map(g.nodes.map((n) => [n.id, n]));
      const shapeOf = (id: string): number[] => {
        const n = byId.get(id);
        if (!n) throw new Error(`backbone ${backbone.name} has no node ${id}`);
        return n.shape;
      };
      dims = groups.map((grp) => {
        if (!grp.pool && grp.nodes.length !== 1)
          throw new Error('internal error: an unpooled output group has one node');
        return grp.pool ? grp.nodes.reduce((sum, id) => sum + shapeOf(id).at(-1)!, 0) : sizeOf(shapeOf(grp.nodes[0]!));
      });
    }
    const info: EngineInfo = {
      backend: b.name,
      reasons: b.reasons,
      backboneId: backbone.id,
      dims,
      multiscale: Boolean(cfg.multiscale && backbone.graph),
      fromCache: backbone.fromCache,
      logs,
    };
    return new BackboneRunner(b.tf, backbone, groups, cfg.flip, info);
  }

  /** Start decoding now; the returned promise resolves to pixel rows (or errors) for `run`. */
  decode(images: Uint8Array[]): Promise<Array<Uint8Array | Error>> {
    const size = this.backbone.inputSize;
    return Promise.all(
      images.map((bytes) =>
        decodeRgb(bytes, size).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
      ),
    );
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
      let outs: Tensor[];
      if (!this.groups) {
        outs = backbone.run(input);
      } else {
        const ids = [...new Set(this.groups.flatMap((grp) => grp.nodes))];
        const got = backbone.run(input, ids);
        const value = new Map(ids.map((id, i) => [id, got[i]!]));
        // Pooled groups: average each map over space and join them into one vector per image.
        outs = this.groups.map((grp) =>
          grp.pool
            ? tf.concat(
                grp.nodes.map((id) => {
                  const o = value.get(id)!;
                  return o.rank === 4 ? tf.mean(o, [1, 2]) : o;
                }),
                1,
              )
            : value.get(grp.nodes[0]!)!,
        );
      }
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
