/**
 * split's second baseline, which looks at the pixels but uses no CNN: a joint RGB colour histogram
 * (4 bins per channel, 64 values) of each image, one logistic regression per label on it, a global
 * threshold fitted on validation, micro-F1 on holdout. Failed images are answered by the
 * label-prior guess, as submit answers them. A model stage that does not beat this has learned
 * little beyond colour. Training uses at most `maxTrain` train images (evenly spread), so the cost
 * stays bounded at the challenge's size.
 */
import { pMapIterable } from 'p-map';
import sharp from 'sharp';
import { fitLinearHead, predictLinearHead } from '../ml/linear-head.js';
import { missedLabels, truthMatrix } from '../ml/label-matrix.js';
import { microF1AtThreshold } from '../ml/metrics.js';
import { fitGlobalThreshold } from '../ml/thresholds.js';

export interface BaselineImage {
  /** Absolute path of the image; absent for a failed image (answered from priors). */
  path?: string;
  labels: string[];
}

export interface ColourBaselineResult {
  validation_micro_f1: number;
  holdout_micro_f1: number;
  threshold: number;
  train_images: number;
  /** Images whose file could not be decoded (histogram of zeros: the bias alone answers them). */
  unreadable: number;
}

const BINS = 4;
const DIM = BINS * BINS * BINS;
const SIDE = 32;
const STEPS = 100;

/** Joint RGB histogram of an image shrunk to 32x32, as shares of its pixels; undefined when unreadable. */
async function histogram(path: string): Promise<Float32Array | undefined> {
  try {
    const { data } = await sharp(path, { limitInputPixels: 50_000_000 })
      .removeAlpha()
      .toColourspace('srgb')
      .resize(SIDE, SIDE, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const h = new Float32Array(DIM);
    const px = data.length / 3;
    for (let i = 0; i < data.length; i += 3) {
      const b = ((data[i] as number) >> 6) * 16 + ((data[i + 1] as number) >> 6) * 4 + ((data[i + 2] as number) >> 6);
      h[b] = (h[b] as number) + 1 / px;
    }
    return h;
  } catch {
    return undefined;
  }
}

/** Histograms of a list of images, in order (4 decodes in flight). */
async function histograms(images: BaselineImage[], counter: { unreadable: number }): Promise<Float32Array> {
  const x = new Float32Array(images.length * DIM);
  let r = 0;
  for await (const h of pMapIterable(images, (im) => (im.path ? histogram(im.path) : undefined), {
    concurrency: 4,
  })) {
    if (h) x.set(h, r * DIM);
    else if (images[r]?.path) counter.unreadable++;
    r++;
  }
  return x;
}

/** At most `max` items, evenly spread over the list (deterministic). */
export function evenSample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)] as T);
}

export async function colourBaseline(
  labels: string[],
  sets: { train: BaselineImage[]; validation: BaselineImage[]; holdout: BaselineImage[] },
  prior: string[],
): Promise<ColourBaselineResult> {
  const L = labels.length;
  const counter = { unreadable: 0 };
  const xTrain = await histograms(sets.train, counter);
  const head = fitLinearHead(xTrain, truthMatrix(sets.train, labels), sets.train.length, DIM, L, {
    epochs: 150,
    lr: 0.05,
    l2: 1e-4,
  });
  const guess = new Float32Array(L);
  for (const l of prior) guess[labels.indexOf(l)] = 1;
  const scored = async (images: BaselineImage[]) => {
    const probs = predictLinearHead(head, await histograms(images, counter), images.length);
    images.forEach((im, r) => {
      if (!im.path) probs.set(guess, r * L);
    });
    return { probs, truth: truthMatrix(images, labels), missed: missedLabels(images, labels), n: images.length };
  };
  const val = await scored(sets.validation);
  const hold = await scored(sets.holdout);
  const missedVal = val.missed.reduce((a, b) => a + b, 0);
  const fit = fitGlobalThreshold(val.truth, val.probs, val.n, L, STEPS, 0, missedVal);
  return {
    validation_micro_f1: fit.f1,
    holdout_micro_f1: microF1AtThreshold(hold.truth, hold.probs, hold.n, L, fit.threshold, hold.missed),
    threshold: fit.threshold,
    train_images: sets.train.length,
    unreadable: counter.unreadable,
  };
}
