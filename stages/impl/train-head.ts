/** train-head's run (the definition and params: ../train-head.ts). */
import { join } from 'node:path';
import type { StageContext } from '../../src/stage-api.js';
import { readFeatureIndex, type FeatureIndex } from '../../src/formats/features.js';
import { openSplit, type OpenSplit } from '../../src/ml/feature-split.js';
import { FEATURES, SPLIT } from '../../src/formats/output-kinds.js';
import { findInput, findOptionalInput } from '../../src/stage-kit/inputs.js';
import { gpuNotice, useBackend } from '../../src/ml/backend.js';
import { removeCheckpoint } from '../../src/ml/checkpoint.js';
import { predictHead } from '../../src/ml/head-task.js';
import { checkpointFolder, checkpointKey, epochLine, trainDenseHead } from '../../src/ml/head-training.js';
import { missedLabels } from '../../src/ml/label-matrix.js';
import { unansweredCounts } from '../../src/ml/scored-set.js';
import { chooseLabels, columnCounts, narrowColumns } from '../../src/ml/label-subset.js';
import { dirSaveHandler } from '../../src/ml/model-io.js';
import { FOLDS_DIR, foldsOfRows, outOfFoldPredictions, readFolds, type FoldRecord } from '../../src/ml/out-of-fold.js';
import { writeModelOutputs, type SplitOutput } from '../../src/ml/model-report.js';
import type { TrainHeadParams } from '../train-head.js';

export default async function trainHead(ctx: StageContext<TrainHeadParams>): Promise<void> {
  const p = ctx.params;
  const { dir } = findInput(ctx.needs, FEATURES, { param: { name: 'features', value: p.features } });
  const index = await readFeatureIndex(dir);
  // Features stay in their shards (read per batch); only the scored splits keep label names.
  const [tr, va, ho, te] = await Promise.all(
    ['train', 'validation', 'holdout', 'test'].map((s) =>
      openSplit(dir, index, s, { keepLabels: s !== 'train' || p.oof }),
    ),
  );
  try {
    await trainOn(ctx, index, dir, { tr, va, ho, te });
  } finally {
    for (const d of [tr, va, ho, te]) d?.x.close();
  }
}

async function trainOn(
  ctx: StageContext<TrainHeadParams>,
  index: FeatureIndex,
  dir: string,
  { tr, va, ho, te }: Record<'tr' | 'va' | 'ho' | 'te', OpenSplit | undefined>,
): Promise<void> {
  const p = ctx.params;
  if (!tr || tr.ids.length === 0) throw new Error(`${dir}: no training rows with features`);
  if (!va || va.ids.length === 0)
    throw new Error(`${dir}: no validation rows with features (needed for early stopping)`);
  const folds = p.oof ? await trainFolds(ctx, tr.ids) : undefined;
  // The labels this head predicts: every one of the split's, or the subset the params choose by
  // training frequency or by name. Truth matrices are narrowed in place to those columns.
  const trainCounts = columnCounts(tr.y, tr.ids.length, index.labels.length);
  const chosen = chooseLabels(index.labels, trainCounts, p);
  if (!chosen.ok) throw new Error(chosen.error);
  const subset = chosen.value;
  const labels = subset.labels;
  const L = labels.length;
  tr.y = narrowColumns(tr.y, tr.ids.length, index.labels.length, subset.columns);
  va.y = narrowColumns(va.y, va.ids.length, index.labels.length, subset.columns);
  if (!subset.all)
    ctx.log(
      `label subset: ${L} of ${index.labels.length} labels (training counts ${Math.min(...subset.counts)}..${Math.max(...subset.counts)}); true labels outside it count as misses in this head's scores`,
    );

  const backend = await useBackend(p.backend);
  const { tf } = backend;
  const notice = gpuNotice(backend);
  if (notice) ctx.log(notice);
  ctx.log(
    `train-head on ${backend.name}: ${tr.ids.length} train, ${va.ids.length} validation rows, ${index.dim} features -> ${L} labels (${index.backbone.id})`,
  );

  // With the split among needs, validation's failed downloads enter the micro-F1 early stopping
  // watches (answered from priors), so it is the one reported over every image.
  const split = findOptionalInput(ctx.needs, SPLIT, { param: { name: 'split', value: p.split } });
  const unanswered = split && (await unansweredCounts(split.dir, 'validation', labels, new Set(va.ids)));

  // Checkpoints are keyed by everything that shapes training: code, params (not the backend name:
  // wasm and cpu produce the same run), seed and the training data.
  const key = checkpointKey(
    ctx.codeKey,
    { p: { ...p, backend: undefined, features: undefined }, seed: ctx.seed, labels, unanswered },
    (h) => {
      for (const d of [tr, va]) {
        d.x.updateHash(h);
        h.update(d.ids.join('\n'));
        h.update(d.y);
      }
    },
  );
  const ckDir = await checkpointFolder(ctx, `train-head-${key}`);

  const validation = {
    x: va.x,
    y: va.y,
    missed: missedLabels(
      (va.labels ?? []).map((l) => ({ labels: l })),
      labels,
    ),
    unanswered,
  };
  const { head, result } = await trainDenseHead({
    tf,
    p,
    seed: ctx.seed,
    train: { x: tr.x, y: tr.y },
    validation,
    images: { y: tr.y, count: tr.ids.length },
    labels: L,
    checkpointDir: ckDir,
    signal: ctx.signal,
    log: ctx.log,
    onEpoch: (r) => {
      ctx.log(epochLine(r, false));
      ctx.progress(r.epoch, p.epochs, 'epochs');
    },
  });
  let oofRecords: FoldRecord[] | undefined;
  try {
    const splits: Partial<Record<'validation' | 'holdout' | 'test' | 'oof', SplitOutput>> = {};
    for (const [name, d] of [
      ['validation', va],
      ['holdout', ho],
      ['test', te],
    ] as const) {
      if (d)
        splits[name] = {
          ids: d.ids,
          labels: d.labels ?? [],
          probs: predictHead(tf, head, d.x),
          missing: index.splits[name]?.missing ?? 0,
        };
    }
    if (folds) {
      // The main head is kept while the fold models train (one more head in memory: small).
      const oof = await outOfFoldPredictions({
        tf,
        p,
        seed: ctx.seed,
        train: { x: tr.x, y: tr.y },
        validation,
        labels: L,
        folds: folds.ofRow,
        k: folds.k,
        // Keyed by the main key and the fold assignment: other folds never resume these.
        checkpointDir: (f) =>
          checkpointFolder(
            ctx,
            `train-head-${checkpointKey(ctx.codeKey, { key, fold: f, of: folds.k }, (h) => h.update(new Uint8Array(folds.ofRow.buffer)))}`,
          ),
        signal: ctx.signal,
        log: ctx.log,
        onEpoch: (f, r) => ctx.progress(f * p.epochs + r.epoch, folds.k * p.epochs, 'fold epochs'),
      });
      splits.oof = { ids: tr.ids, labels: tr.labels ?? [], probs: oof.probs, missing: 0 };
      oofRecords = oof.folds;
      for (const c of oof.removeCheckpoints) await removeCheckpoint(c);
    }
    const metrics = await writeModelOutputs(
      ctx.out,
      labels,
      splits,
      result.history,
      `train-head on ${index.backbone.name}`,
      { splitDir: split?.dir, log: ctx.log },
    );
    const model = head.toLayersModel();
    await model.save(
      dirSaveHandler(tf, join(ctx.out, 'model'), { tailor: { kind: 'head', features: index.backbone, labels } }),
    );
    model.dispose();
    await removeCheckpoint(ckDir);

    const last = result.history[result.history.length - 1];
    ctx.metrics({
      ...metrics,
      labels: {
        predicted: L,
        of: index.labels.length,
        subset: !subset.all,
        min_count: p.min_count ?? null,
        max_count: p.max_count ?? null,
        listed: p.labels?.length ?? null,
        train_count_min: Math.min(...subset.counts),
        train_count_max: Math.max(...subset.counts),
      },
      train: {
        backend: backend.name,
        epochs: result.history.length,
        best_epoch: result.bestEpoch + 1,
        monitor: p.monitor,
        best_value: result.bestValue,
        stopped_early: result.stoppedEarly,
        resumed_at_epoch: result.resumedAt === null ? null : result.resumedAt + 1,
        samples_per_s: last ? last.samples_per_s : null,
        seconds: result.history.reduce((s, r) => s + r.seconds, 0),
        rows: tr.ids.length,
      },
      ...(oofRecords && folds ? { out_of_fold: { folds: folds.k, split: folds.split, per_fold: oofRecords } } : {}),
    });
    const v = metrics.validation as { micro_f1: number };
    const h = metrics.holdout as { micro_f1: number } | undefined;
    const o = metrics.oof as { micro_f1: number } | undefined;
    ctx.log(
      `validation micro-F1 ${v.micro_f1.toFixed(4)}${h ? `, holdout ${h.micro_f1.toFixed(4)}` : ''}${o ? `, out-of-fold train ${o.micro_f1.toFixed(4)}` : ''} at 0.5`,
    );
  } finally {
    head.dispose();
  }
}

/**
 * The fold of each training row for `oof: true`: split's folds, read from the needed split stage.
 * Errors name this stage's param and what to change.
 */
async function trainFolds(
  ctx: StageContext<TrainHeadParams>,
  ids: readonly string[],
): Promise<{ k: number; ofRow: Int32Array; split: string }> {
  const split = findOptionalInput(ctx.needs, SPLIT, { param: { name: 'split', value: ctx.params.split } });
  if (!split)
    throw new Error(
      `train-head: param oof is true, but no needed stage holds a split (labels.json, train.jsonl, ...): add the split stage to this stage's needs`,
    );
  const read = await readFolds(split.dir);
  if (!read.ok) throw new Error(`train-head: param oof: ${read.error}`);
  if (!read.value)
    throw new Error(
      `train-head: param oof is true, but split stage "${split.name}" wrote no folds (${FOLDS_DIR}/ is empty or absent): set that stage's param folds to 2 or more`,
    );
  const rows = foldsOfRows(ids, read.value.foldOf);
  if (!rows.ok) throw new Error(`train-head: param oof: ${rows.error} (split stage "${split.name}")`);
  ctx.log(`out-of-fold predictions over train: ${read.value.k} folds of split stage "${split.name}"`);
  return { k: read.value.k, ofRow: rows.value, split: split.name };
}
