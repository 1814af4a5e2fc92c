/**
 * What submit needs besides predictions: the list of test images of the original iMaterialist
 * JSON, and a prior-based guess for images that could not be scored (failed downloads).
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readJsonl } from '../formats/jsonl.js';
import { SPLIT_FILES } from '../formats/manifest.js';
import { TEST_IMAGES, TEST_JSON_FILE } from '../formats/output-kinds.js';
import { findOptionalInput, type NamedDir, type Needs } from '../stage-kit/inputs.js';
import { f1FromCounts } from './metrics.js';

/** Image ids of an iMaterialist JSON file (`{"images":[{"url","imageId"}]}`), first occurrence order. */
export async function readTestImageIds(file: string): Promise<{ ids: string[]; duplicates: number }> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not readable as JSON (${(e as Error).message})`);
  }
  const images = (doc as { images?: unknown } | null)?.images;
  if (!Array.isArray(images))
    throw new Error(`${file}: expected an object with an "images" array (iMaterialist format)`);
  const seen = new Set<string>();
  const ids: string[] = [];
  let duplicates = 0;
  images.forEach((img, i) => {
    const id = (img as { imageId?: unknown } | null)?.imageId;
    if (typeof id !== 'string' && typeof id !== 'number')
      throw new Error(`${file}: images[${i}] has no string "imageId"`);
    const s = String(id);
    if (seen.has(s)) duplicates++;
    else {
      seen.add(s);
      ids.push(s);
    }
  });
  return { ids, duplicates };
}

/**
 * Images per label (in `labels` order) over the lines of a split file, skipping failed images;
 * `outside` counts true labels not in `labels`.
 */
export async function countLabels(
  file: string,
  labels: string[],
): Promise<{ counts: Float64Array; images: number; outside: number }> {
  const col = new Map(labels.map((l, i) => [l, i]));
  const counts = new Float64Array(labels.length);
  let images = 0;
  let outside = 0;
  for await (const row of readJsonl<{ labels?: unknown[]; error?: string }>(file)) {
    if (row.error !== undefined) continue;
    images++;
    for (const l of new Set((row.labels ?? []).map(String))) {
      const c = col.get(l);
      if (c !== undefined) counts[c] = (counts[c] as number) + 1;
      else outside++;
    }
  }
  return { counts, images, outside };
}

export interface PriorGuess {
  /** Labels predicted for an image nothing is known about (the k most frequent). */
  labels: string[];
  k: number;
  /** Validation micro-F1 of predicting these labels for every image. */
  validationMicroF1: number;
  /** Which file the frequencies came from. */
  rankedBy: string;
}

/**
 * The best "k most frequent labels" guess: labels ranked by frequency in the split's train.jsonl
 * (validation.jsonl if there is none), k chosen to maximise micro-F1 on validation.jsonl.
 */
export async function priorGuess(splitDir: string, labels: string[]): Promise<PriorGuess> {
  const valFile = join(splitDir, SPLIT_FILES.validation);
  const trainFile = join(splitDir, SPLIT_FILES.train);
  const val = await countLabels(valFile, labels);
  const rankedBy = existsSync(trainFile) ? SPLIT_FILES.train : SPLIT_FILES.validation;
  const ranking = rankedBy === SPLIT_FILES.train ? (await countLabels(trainFile, labels)).counts : val.counts;
  const order = labels.map((_, i) => i).sort((a, b) => (ranking[b] as number) - (ranking[a] as number) || a - b);
  // Labels the split dropped still count as misses, as everywhere else.
  const totalTrue = val.counts.reduce((a, b) => a + b, 0) + val.outside;
  let best = { k: 0, f1: 0 };
  let tp = 0;
  order.forEach((c, i) => {
    tp += val.counts[c] as number;
    const k = i + 1;
    const f1 = f1FromCounts(tp, val.images * k - tp, totalTrue - tp);
    if (f1 > best.f1) best = { k, f1 };
  });
  return {
    labels: order.slice(0, best.k).map((c) => labels[c] as string),
    k: best.k,
    validationMicroF1: best.f1,
    rankedBy,
  };
}

/** The test images a submission must cover, and where the list came from. */
export interface TestImageList {
  ids: string[];
  duplicates: number;
  from: string;
}

/**
 * The list of test images: `test_json` (a workspace path), else the test.json of the needed stage
 * named by `test_source` or the only one holding one, else the split's test.jsonl (which keeps
 * failed images as error lines).
 */
export async function findTestImages(
  ctx: { needs: Needs; workdir: string },
  p: { test_json?: string; test_source?: string },
  split: NamedDir,
  splitTest: ReadonlyArray<{ imageId: string }>,
  exclude: NamedDir[],
): Promise<TestImageList> {
  if (p.test_json !== undefined) {
    const { ids, duplicates } = await readTestImageIds(resolve(ctx.workdir, p.test_json));
    return { ids, duplicates, from: p.test_json };
  }
  const holder = findOptionalInput(ctx.needs, TEST_IMAGES, {
    param: { name: 'test_source', value: p.test_source },
    exclude: p.test_source === undefined ? exclude : [],
  });
  if (holder) {
    const { ids, duplicates } = await readTestImageIds(join(holder.dir, TEST_JSON_FILE));
    return { ids, duplicates, from: `${holder.name}/${TEST_JSON_FILE}` };
  }
  if (splitTest.length === 0)
    throw new Error(
      'no test image list: set param test_json, need a stage with test.json, or give the split a test.jsonl',
    );
  const ids = [...new Set(splitTest.map((e) => e.imageId))];
  return { ids, duplicates: splitTest.length - ids.length, from: `${split.name}/${SPLIT_FILES.test}` };
}
