/**
 * One demo picture of mosaic: its scene, labels and fate (dead URL, broken bytes, repeated label)
 * drawn from its own seeded stream, so adding a picture never changes the others; and its bytes.
 */
import sharp from 'sharp';
import { hashSeed, mulberry32 } from '../random.js';
import { BROKEN_KINDS, brokenBytes, type BrokenKind } from './broken-images.js';
import type { FmnistClass, SourceSet } from './fmnist.js';
import { renderScene } from './mosaic-render.js';
import { drawScene, sceneLabels, type Scene, type SceneOptions } from './mosaic-scene.js';
import type { Taxonomy } from './mosaic-taxonomy.js';

export interface PictureShares {
  dead: number;
  broken: number;
  repeatLabel: number;
}

export interface PicturePlan {
  id: string;
  scene: Scene;
  /** The true labels. */
  labels: string[];
  /** What the annotation says (may repeat a label, as scraped data does). */
  annotated: string[];
  repeated: boolean;
  dead: boolean;
  broken?: BrokenKind;
}

/** Draw picture `i` of `set`. */
export function planPicture(
  seed: number,
  set: SourceSet,
  i: number,
  opts: { minSide: number; maxSide: number; pools: SceneOptions['pools']; tax: Taxonomy; shares: PictureShares },
): PicturePlan {
  const rand = mulberry32(hashSeed(seed, 'mosaic', set, i));
  const scene = drawScene(rand, { minSide: opts.minSide, maxSide: opts.maxSide, pools: opts.pools });
  const labels = sceneLabels(scene, opts.tax);
  const fate = rand();
  const { dead: deadShare, broken: brokenShare } = opts.shares;
  const dead = fate < deadShare;
  const broken: BrokenKind | undefined =
    !dead && fate < deadShare + brokenShare ? BROKEN_KINDS[Math.floor(rand() * BROKEN_KINDS.length)] : undefined;
  const annotated = [...labels];
  const repeated = rand() < opts.shares.repeatLabel;
  if (repeated) annotated.push(labels[Math.floor(rand() * labels.length)] as string);
  return { id: String(i), scene, labels, annotated, repeated, dead, broken };
}

/** The file bytes of a planned picture (undefined for a dead URL: no file). */
export async function pictureBytes(
  plan: PicturePlan,
  classes: readonly FmnistClass[],
  quality: number,
): Promise<Uint8Array | undefined> {
  if (plan.dead) return undefined;
  const { width, height } = plan.scene;
  const jpeg = await sharp(renderScene(plan.scene, classes), { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  return plan.broken ? brokenBytes(plan.broken, jpeg) : jpeg;
}
