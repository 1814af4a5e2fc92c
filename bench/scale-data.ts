/**
 * The synthetic challenge of bench:scale: images with long-tailed labels (Zipf-like, as in the real
 * iMaterialist files: a few labels on most images, a tail under split's min_label_count) and
 * features in which the labels are visible (each label adds its own direction to Gaussian noise),
 * so a head can learn and the bench measures how much it did. Everything is a function of the
 * seed and the image id, so a split's order never changes an image's labels or features, and the
 * test images' hidden labels can score the submission.
 *
 * Entry points: `writeManifest` (pad's output format, for split) and `writeFeatures` (precompute's
 * output format, written by precompute's own split writer, for the model stages).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FEATURES_FILE, type FeatureIndex } from '../src/formats/features.js';
import { writeSplitShards, type FeatureRowIn } from '../src/ml/feature-outputs.js';
import { JsonlWriter, readJsonl } from '../src/formats/jsonl.js';
import { MANIFEST_FILE, SPLIT_FILES, type ManifestEntry, type SplitName } from '../src/formats/manifest.js';
import { hashSeed, mulberry32, shuffleInPlace } from '../src/random.js';

/** The challenge's sizes (scale 1). */
export const REAL = { train: 1_014_544, validation: 9_897, test: 39_706, labels: 228 };

export interface SyntheticSpec {
  seed: number;
  labels: number;
  dim: number;
  /** Share of images whose download "failed" (no file; precompute lists them as missing). */
  failedShare: number;
  /** Signal-to-noise ratio of one label's direction in the features. */
  snr: number;
}

const NOISE_POOL = 1 << 20;

export class Synthetic {
  /** Probability of each label (index = label column), long-tailed. */
  readonly freq: Float64Array;
  /** Label id of each column ("1"..."228", shuffled so frequency does not follow the id). */
  readonly ids: string[];
  private readonly proto: Float32Array;
  private readonly noise: Float32Array;
  private readonly amp: number;

  constructor(readonly spec: SyntheticSpec) {
    const { labels: L, dim, seed } = spec;
    // Zipf-like: rank r gets 0.75 (r+1)^-1.4, about 3 labels per image, the rarest at 4e-4.
    this.freq = Float64Array.from({ length: L }, (_, r) => 0.75 * (r + 1) ** -1.4);
    this.ids = shuffleInPlace(
      Array.from({ length: L }, (_, i) => String(i + 1)),
      mulberry32(hashSeed(seed, 'ids')),
    );
    const rand = mulberry32(hashSeed(seed, 'proto'));
    this.proto = Float32Array.from({ length: L * dim }, () => (rand() < 0.5 ? -1 : 1));
    this.amp = spec.snr / Math.sqrt(dim);
    const nrand = mulberry32(hashSeed(seed, 'noise'));
    this.noise = new Float32Array(NOISE_POOL + dim);
    for (let i = 0; i < this.noise.length; i += 2) {
      // Box-Muller: two standard normals per two uniforms.
      const u = Math.max(nrand(), 1e-12);
      const v = nrand();
      const r = Math.sqrt(-2 * Math.log(u));
      this.noise[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < this.noise.length) this.noise[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
  }

  /** The true label columns of an image. */
  columns(imageId: string): number[] {
    const rand = mulberry32(hashSeed(this.spec.seed, 'labels', imageId));
    const out: number[] = [];
    for (let l = 0; l < this.freq.length; l++) if (rand() < this.freq[l]!) out.push(l);
    return out;
  }

  labels(imageId: string): string[] {
    return this.columns(imageId).map((c) => this.ids[c]!);
  }

  failed(imageId: string): boolean {
    return mulberry32(hashSeed(this.spec.seed, 'failed', imageId))() < this.spec.failedShare;
  }

  /** An image's features: a window of the noise pool plus each true label's direction. */
  features(imageId: string, into: Float32Array): Float32Array {
    const d = this.spec.dim;
    const at = Math.floor(mulberry32(hashSeed(this.spec.seed, 'x', imageId))() * NOISE_POOL);
    into.set(this.noise.subarray(at, at + d));
    for (const c of this.columns(imageId)) {
      const p = this.proto.subarray(c * d, (c + 1) * d);
      for (let i = 0; i < d; i++) into[i]! += this.amp * p[i]!;
    }
    return into;
  }
}

export function sizesAt(scale: number): { train: number; validation: number; test: number } {
  return {
    train: Math.round(REAL.train * scale),
    validation: Math.round(REAL.validation * scale),
    test: Math.round(REAL.test * scale),
  };
}

/** pad's output format (manifest.jsonl; files are never opened by split). Image ids are 1..N across sets. */
export async function writeManifest(dir: string, data: Synthetic, sizes: ReturnType<typeof sizesAt>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const w = new JsonlWriter(join(dir, MANIFEST_FILE));
  let id = 0;
  for (const set of ['train', 'validation', 'test'] as const) {
    for (let i = 0; i < sizes[set]; i++) {
      const imageId = String(++id);
      const e: ManifestEntry = { imageId, set };
      if (set !== 'test') e.labels = data.labels(imageId);
      if (data.failed(imageId)) e.error = 'http 404';
      else e.file = `images/${imageId}.jpg`;
      await w.write(e);
    }
  }
  await w.close();
}

/** precompute's output format for every subset of a split folder, through precompute's writer (writeSplitShards). */
export async function writeFeatures(splitDir: string, out: string, data: Synthetic, labels: string[]): Promise<void> {
  await mkdir(out, { recursive: true });
  const dim = data.spec.dim;
  const index: FeatureIndex = {
    format: 'tailor-features/1',
    backbone: { name: 'synthetic', id: `synthetic-${data.spec.seed}-${dim}`, inputSize: 224, preprocess: 'none' },
    dim,
    dtype: 'float16',
    flip: 'none',
    labels,
    splits: {},
  };
  const x = new Float32Array(dim);
  async function* rows(split: SplitName): AsyncGenerator<FeatureRowIn> {
    for await (const e of readJsonl<ManifestEntry>(join(splitDir, SPLIT_FILES[split])))
      yield e.error !== undefined
        ? { imageId: e.imageId, error: e.error }
        : {
            imageId: e.imageId,
            labels: e.labels ?? [],
            hash: `synthetic-${e.imageId}`,
            values: data.features(e.imageId, x),
          };
  }
  for (const s of Object.keys(SPLIT_FILES) as SplitName[])
    index.splits[s] = await writeSplitShards(out, s, rows(s), index, 8192);
  await writeFile(join(out, FEATURES_FILE), JSON.stringify(index, null, 2) + '\n');
}
