/**
 * split — train / validation / holdout / test sets for the models, with multi-label iterative
 * stratification, the label space, label-frequency tables and pictures, and a trivial baseline.
 *
 * Input: the upstream `manifest.jsonl` (pad's or fetch's; `from` picks one of several upstream
 * stages). Images of the `validation` set are split into validation and holdout (`holdout_share`
 * of them, kept for honest final scores), stratified so every label keeps its proportions; when the
 * input has no validation images, `validation_share` of train is carved out first the same way.
 * Failed images (lines with `error`) leave train/validation/holdout; test keeps every image, errors
 * included, because a submission needs a row for each.
 *
 * Outputs: `train.jsonl validation.jsonl holdout.jsonl test.jsonl` (input lines unchanged: labels
 * are the full truth, dropped labels included, so scores count them as misses), `labels.json` (the
 * label ids with at least `min_label_count` training images, in model order), `label-frequency.csv`,
 * `label-distribution.svg` (train beside validation), `folds/fold-<i>.jsonl` when `folds` is
 * set (a stratified k-fold partition of train), and metrics with the best "predict the k most
 * frequent labels" baseline: `{"baseline":{"holdout_micro_f1","validation_micro_f1","k"}}`.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { JsonlWriter, readJsonl } from '../src/formats/jsonl.js';
import { SPLIT_FILES, type ManifestEntry, type SplitName } from '../src/formats/manifest.js';
import { hashSeed, mulberry32 } from '../src/random.js';
import { barChartSvg } from '../src/data/bar-chart-svg.js';
import { csvLine } from '../src/data/csv.js';
import { labelNames } from '../src/data/csv-read.js';
import { inputBase, resolveInput } from '../src/data/input-paths.js';
import { LabelIndex, LabelRows, sortLabelIds } from '../src/data/label-rows.js';
import { LabelCounter } from '../src/data/label-stats.js';
import { iterativeStratification } from '../src/data/stratify.js';
import { topKBaseline } from '../src/data/top-k-baseline.js';

interface SplitParams {
  holdout_share: number;
  min_label_count: number;
  seed?: number;
  folds: number;
  validation_share: number;
  from?: string;
  manifest: string;
  label_map?: string;
}

/** Output subsets in stratification order. */
const SUBSETS = ['train', 'validation', 'holdout'] as const;

export default defineStage<SplitParams>({
  description: 'Stratified train/validation/holdout/test sets, label space, label frequencies, top-k baseline',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      holdout_share: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.5,
        description: 'share of validation kept as holdout',
      },
      min_label_count: {
        type: 'integer',
        minimum: 1,
        default: 10,
        description: 'labels with fewer training images are dropped (reference: 500)',
      },
      seed: { type: 'integer', minimum: 0, description: 'seed of the stratification ties (default: the stage seed)' },
      folds: {
        type: 'integer',
        minimum: 0,
        maximum: 100,
        default: 0,
        description: 'also write a stratified k-fold partition of train (0 = none)',
      },
      validation_share: {
        type: 'number',
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
        default: 0.1,
        description: 'share of train used as validation+holdout when the input has no validation images',
      },
      from: {
        type: 'string',
        minLength: 1,
        description: 'upstream stage holding the manifest (when there are several)',
      },
      manifest: { type: 'string', minLength: 1, default: 'manifest.jsonl' },
      label_map: {
        type: 'string',
        minLength: 1,
        description:
          'label map CSV (labelId,taskId,labelName,taskName) for names in the tables; default: label-map.csv of an upstream stage, if any',
      },
    },
  },
  async run(ctx) {
    const p = ctx.params;
    if (p.folds === 1) throw new Error('folds must be 0 (none) or at least 2');
    const base = inputBase(ctx, p.from);
    if (!base.ok) throw new Error(base.error);
    const manifestPath = resolveInput(base.value, p.manifest);
    const rand = mulberry32(hashSeed(p.seed ?? ctx.seed, 'split'));
    const names = await loadLabelNames(ctx.needs, ctx.workdir, base.value, p.label_map);

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

    await writeFile(join(ctx.out, 'labels.json'), JSON.stringify(kept) + '\n');
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
  },
});

/** Label names from `label_map` (must exist when given) or an upstream `label-map.csv` (optional). */
async function loadLabelNames(
  needs: Readonly<Record<string, string>>,
  workdir: string,
  base: string,
  labelMap: string | undefined,
): Promise<Map<string, string>> {
  if (labelMap !== undefined) {
    const candidates = [
      resolveInput(base, labelMap),
      ...Object.values(needs).map((d) => resolveInput(d, labelMap)),
      resolveInput(workdir, labelMap),
    ];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new Error(`label_map not found: ${labelMap} (looked in ${candidates.join(', ')})`);
    return labelNames(await readFile(found, 'utf8'));
  }
  for (const dir of Object.values(needs)) {
    const f = join(dir, 'label-map.csv');
    if (existsSync(f)) return labelNames(await readFile(f, 'utf8'));
  }
  return new Map();
}

async function writeFrequencyTable(
  file: string,
  ranked: readonly string[],
  names: ReadonlyMap<string, string>,
  kept: ReadonlySet<string>,
  c: Record<'train' | 'validation' | 'holdout', LabelCounter>,
): Promise<void> {
  const rows = [
    csvLine(['labelId', 'labelName', 'train', 'validation', 'holdout', 'trainShare', 'validationShare', 'kept']),
  ];
  const share = (n: number, of: number): string => (of ? (n / of).toFixed(5) : '0');
  for (const l of ranked) {
    const [t, v, h] = [c.train.count(l), c.validation.count(l), c.holdout.count(l)];
    rows.push(
      csvLine([
        l,
        names.get(l) ?? '',
        t,
        v,
        h,
        share(t, c.train.images),
        share(v + h, c.validation.images + c.holdout.images),
        kept.has(l) ? 1 : 0,
      ]),
    );
  }
  await writeFile(file, rows.join(''));
}

async function writeDistributionPicture(
  out: string,
  ranked: readonly string[],
  names: ReadonlyMap<string, string>,
  c: Record<'train' | 'validation' | 'holdout', LabelCounter>,
): Promise<void> {
  const valImages = c.validation.images + c.holdout.images;
  const svg = barChartSvg({
    title: `Label frequency: share of images per label (${c.train.images} train, ${valImages} validation+holdout)`,
    yLabel: 'share of images',
    categories: ranked.map((l) => names.get(l) ?? l),
    series: [
      {
        name: 'train',
        colour: '#3b6fb6',
        values: ranked.map((l) => (c.train.images ? c.train.count(l) / c.train.images : 0)),
      },
      {
        name: 'validation + holdout',
        colour: '#e08a2c',
        values: ranked.map((l) => (valImages ? (c.validation.count(l) + c.holdout.count(l)) / valImages : 0)),
      },
    ],
    format: (v) => `${Math.round(v * 1000) / 10}%`,
  });
  // SVG only: a rasterised copy would draw its text with whatever fonts the machine has, and
  // split's bytes are meant to be the same on every machine (docs/reproducibility.md).
  await writeFile(join(out, 'label-distribution.svg'), svg);
}
