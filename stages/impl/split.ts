/** split's run (the definition and params: ../split.ts): two streaming passes over the manifest. */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StageContext } from '../../src/stage-api.js';
import { JsonlWriter, readJsonl } from '../../src/formats/jsonl.js';
import { LABEL_MAP_FILE, parseLabelMap } from '../../src/formats/label-map.js';
import { LABELS_FILE, SPLIT_FILES, type ManifestEntry, type SplitName } from '../../src/formats/manifest.js';
import { LABEL_MAP } from '../../src/formats/output-kinds.js';
import { hashSeed, mulberry32 } from '../../src/random.js';
import { findOptionalInput, inputBase, resolveInput } from '../../src/stage-kit/inputs.js';
import { writeDistributionPicture, writeFrequencyTable } from '../../src/data/label-frequency-outputs.js';
import { LabelIndex, LabelRows, sortLabelIds } from '../../src/data/label-rows.js';
import { LabelCounter } from '../../src/data/label-stats.js';
import { iterativeStratification } from '../../src/data/stratify.js';
import { topKBaseline } from '../../src/data/top-k-baseline.js';
import type { SplitParams } from '../split.js';

/** Output subsets in stratification order. */
const SUBSETS = ['train', 'validation', 'holdout'] as const;

export default async function split(ctx: StageContext<SplitParams>): Promise<void> {
  const p = ctx.params;
  if (p.folds === 1) throw new Error('folds must be 0 (none) or at least 2');
  const manifestPath = resolveInput(inputBase(ctx, p.from), p.manifest);
  const rand = mulberry32(hashSeed(p.seed ?? ctx.seed, 'split'));
  const names = await loadLabelNames(ctx, p.label_map);

  // Pass 1: label rows of train and validation images (compact), training label counts.
  const labels = new LabelIndex();
  const trainRows = new LabelRows();
  const valRows = new LabelRows();
  const trainCounts = new LabelCounter();
  const dropped = { train: 0, validation: 0 };
  let testImages = 0;
  let testFailed = 0;
  for await (const e of readJsonl<ManifestEntry>(manifestPath)) {
    if (e.set === 'test') {
      testImages++;
      if (e.error !== undefined) testFailed++;
      continue;
    }
    if (e.set !== 'train' && e.set !== 'validation')
      throw new Error(`${manifestPath}: unknown set "${String(e.set)}" for image ${e.imageId}`);
    if (e.error !== undefined || e.file === undefined) {
      dropped[e.set]++;
      continue;
    }
    const idx = (e.labels ?? []).map((l) => labels.indexOf(l));
    if (e.set === 'train') {
      trainRows.push(idx);
      trainCounts.add(e.labels ?? []);
    } else valRows.push(idx);
  }
  if (trainRows.length === 0) throw new Error(`${manifestPath}: no usable training images`);

  const kept = sortLabelIds(labels.ids.filter((l) => trainCounts.count(l) >= p.min_label_count));
  if (kept.length === 0) throw new Error(`no label has ${p.min_label_count} training images: lower min_label_count`);
  const use = new Uint8Array(labels.size);
  for (const l of kept) use[labels.find(l) as number] = 1;

  // Subset of every usable train and validation row: 0 train, 1 validation, 2 holdout.
  const h = p.holdout_share;
  let trainSubset: Int32Array;
  let valSubset: Int32Array;
  if (valRows.length > 0) {
    trainSubset = new Int32Array(trainRows.length);
    valSubset = iterativeStratification(valRows, labels.size, [0, 1 - h, h], rand, use);
  } else {
    const v = p.validation_share;
    ctx.log(`no validation images in the input: using ${(v * 100).toFixed(1)}% of train as validation and holdout`);
    trainSubset = iterativeStratification(trainRows, labels.size, [1 - v, v * (1 - h), v * h], rand, use);
    valSubset = new Int32Array(0);
  }
  let foldOf: Int32Array | undefined;
  if (p.folds >= 2) {
    const members = new LabelRows();
    for (let i = 0; i < trainRows.length; i++) if (trainSubset[i] === 0) members.push([...trainRows.row(i)]);
    foldOf = iterativeStratification(members, labels.size, new Array<number>(p.folds).fill(1), rand, use);
  }

  // Pass 2: route every line; count labels per output set.
  const writers = Object.fromEntries(
    (Object.keys(SPLIT_FILES) as SplitName[]).map((s) => [s, new JsonlWriter(join(ctx.out, SPLIT_FILES[s]))]),
  ) as Record<SplitName, JsonlWriter>;
  const foldWriters: JsonlWriter[] = [];
  if (foldOf) {
    await mkdir(join(ctx.out, 'folds'), { recursive: true });
    for (let f = 0; f < p.folds; f++) foldWriters.push(new JsonlWriter(join(ctx.out, 'folds', `fold-${f}.jsonl`)));
  }
  const counters = { train: new LabelCounter(), validation: new LabelCounter(), holdout: new LabelCounter() };
  let ti = 0;
  let vi = 0;
  let trainMember = 0;
  for await (const e of readJsonl<ManifestEntry>(manifestPath)) {
    if (e.set === 'test') {
      await writers.test.write(e);
      continue;
    }
    if (e.error !== undefined || e.file === undefined) continue;
    const subset = SUBSETS[(e.set === 'train' ? trainSubset[ti++] : valSubset[vi++]) as number] ?? 'train';
    await writers[subset].write(e);
    counters[subset].add(e.labels ?? []);
    if (subset === 'train' && foldOf) await (foldWriters[foldOf[trainMember++] as number] as JsonlWriter).write(e);
  }
  for (const w of [...Object.values(writers), ...foldWriters]) await w.close();

  await writeFile(join(ctx.out, LABELS_FILE), JSON.stringify(kept) + '\n');
  const ranked = [...labels.ids].sort((a, b) => trainCounts.count(b) - trainCounts.count(a) || (a < b ? -1 : 1));
  await writeFrequencyTable(join(ctx.out, 'label-frequency.csv'), ranked, names, new Set(kept), counters);
  await writeDistributionPicture(ctx.out, ranked, names, counters);

  const keptRanked = ranked.filter((l) => use[labels.find(l) as number] === 1);
  const baseline = topKBaseline(keptRanked, counters.validation, counters.holdout);
  // How evenly each kept label is shared between validation and holdout (0 = identical shares).
  let diff = 0;
  for (const l of kept) {
    const v = counters.validation.images ? counters.validation.count(l) / counters.validation.images : 0;
    const o = counters.holdout.images ? counters.holdout.count(l) / counters.holdout.images : 0;
    diff += Math.abs(v - o);
  }
  const images = {
    train: counters.train.images,
    validation: counters.validation.images,
    holdout: counters.holdout.images,
    test: testImages,
    test_failed: testFailed,
    dropped_failed: dropped,
  };
  ctx.log(
    `train ${images.train}, validation ${images.validation}, holdout ${images.holdout}, test ${testImages}; ` +
      `${kept.length} of ${labels.size} labels kept (>= ${p.min_label_count} training images); ` +
      `baseline top-${baseline.k}: holdout micro-F1 ${baseline.holdout_micro_f1.toFixed(4)}`,
  );
  ctx.metrics({
    baseline,
    images,
    labels: { seen: labels.size, kept: kept.length, min_label_count: p.min_label_count },
    stratification: { mean_abs_share_diff_validation_holdout: kept.length ? diff / kept.length : 0 },
    folds: p.folds,
  });
}

/** Label names from `label_map` (a workspace path; must exist when given), else an upstream label-map.csv. */
async function loadLabelNames(
  ctx: StageContext<SplitParams>,
  labelMap: string | undefined,
): Promise<Map<string, string>> {
  if (labelMap !== undefined) {
    const file = resolve(ctx.workdir, labelMap);
    if (!existsSync(file)) throw new Error(`label_map not found: ${labelMap} (looked in ${ctx.workdir})`);
    return parseLabelMap(await readFile(file, 'utf8'));
  }
  const holder = findOptionalInput(ctx.needs, LABEL_MAP, { param: { name: 'label_map', value: undefined } });
  return holder ? parseLabelMap(await readFile(join(holder.dir, LABEL_MAP_FILE), 'utf8')) : new Map();
}
