/**
 * train-head: a classifier on precomputed features — dense ReLU layers with dropout to one sigmoid
 * per label; BCE, class-weighted BCE or focal loss; Adam; learning rate reduced on a
 * validation-loss plateau; early stopping; a checkpoint each epoch (resumed after an interrupt);
 * seeded. Writes the head as a TensorFlow.js LayersModel, probabilities for validation, holdout
 * and test, per-epoch records and a learning-curve picture.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import { BACKEND_PARAM, type BackendChoice } from '../src/ml/backend.js';
import { HEAD_PARAMS, scheduleOf, type HeadParams } from '../src/ml/head-params.js';

interface Params extends HeadParams {
  features?: string;
  backend: BackendChoice;
}

/** Bumped when training code changes what a checkpoint means. */
const CHECKPOINT_VERSION = 1;

export default defineStage<Params>({
  description:
    'dense head (dropout, sigmoid per label) trained on precomputed features; predictions for validation/holdout/test',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      features: { type: 'string', description: 'needed precompute stage (default: the one with features.json)' },
      ...HEAD_PARAMS,
      backend: BACKEND_PARAM,
    },
  },
  async run(ctx) {
    const p = ctx.params;
    const { existsSync } = await import('node:fs');
    const { findNeed } = await import('../src/ml/stage-inputs.js');
    const { readFeatureIndex, readSplit, FEATURES_FILE } = await import('../src/ml/feature-shards.js');
    const { truthMatrix } = await import('../src/ml/label-matrix.js');
    const { useBackend, gpuNotice } = await import('../src/ml/backend.js');
    const { DenseHead, priorLogits, fitStandardizer } = await import('../src/ml/dense-head.js');
    const { positiveWeights } = await import('../src/ml/losses.js');
    const { evaluateHead, headStepLoss, predictHead } = await import('../src/ml/head-task.js');
    const { train } = await import('../src/ml/trainer.js');
    const { checkpointDir, removeCheckpoint } = await import('../src/ml/checkpoint.js');
    const { writeModelOutputs } = await import('../src/ml/model-report.js');
    const { dirSaveHandler } = await import('../src/ml/model-io.js');

    const dir = findNeed(ctx.needs, 'precomputed features (features.json)', 'features', p.features, (d) =>
      existsSync(join(d, FEATURES_FILE)),
    );
    const index = await readFeatureIndex(dir);
    const labels = index.labels;
    const L = labels.length;
    const load = async (split: string) => {
      const d = await readSplit(dir, index, split);
      return (
        d && {
          ...d,
          y: truthMatrix(
            d.labels.map((l) => ({ labels: l })),
            labels,
          ),
        }
      );
    };
    const [tr, va, ho, te] = [await load('train'), await load('validation'), await load('holdout'), await load('test')];
    if (!tr || tr.ids.length === 0) throw new Error(`${dir}: no training rows with features`);
    if (!va || va.ids.length === 0)
      throw new Error(`${dir}: no validation rows with features (needed for early stopping)`);

    const backend = await useBackend(p.backend);
    const { tf } = backend;
    const notice = gpuNotice(backend);
    if (notice) ctx.log(notice);
    ctx.log(
      `train-head on ${backend.name}: ${tr.ids.length} train, ${va.ids.length} validation rows, ${index.dim} features -> ${L} labels (${index.backbone.id})`,
    );

    // Checkpoints are keyed by everything that shapes training: params (not the backend name:
    // wasm and cpu produce the same run), seed, features and code version.
    const h = createHash('sha256').update(
      JSON.stringify({
        v: CHECKPOINT_VERSION,
        p: { ...p, backend: undefined, features: undefined },
        seed: ctx.seed,
        labels,
      }),
    );
    for (const d of [tr, va]) {
      d.x.updateHash(h);
      h.update(d.ids.join('\n'));
      h.update(d.y);
    }
    const ckDir = checkpointDir(ctx.state, `train-head-${h.digest('hex').slice(0, 24)}`);

    const standardizer = p.standardize ? fitStandardizer(tr.x.rows, tr.x.dim, (a, b) => tr.x.range(a, b)) : undefined;
    const head = DenseHead.create(
      tf,
      { inputDim: index.dim, hidden: p.hidden, dropout: p.dropout, labels: L },
      ctx.seed,
      priorLogits(tr.y, tr.ids.length, L),
      standardizer,
    );
    let result: Awaited<ReturnType<typeof train>>;
    let metrics: Record<string, unknown>;
    try {
      const loss = {
        name: p.loss,
        gamma: p.focal_gamma,
        posWeight: p.loss === 'weighted_bce' ? positiveWeights(tr.y, tr.ids.length, L, p.pos_weight_max) : undefined,
      };
      const trainSet = { x: tr.x, y: tr.y };
      const valSet = { x: va.x, y: va.y };
      result = await train({
        tf,
        ...scheduleOf(p),
        phase: 'head',
        params: head.variables,
        nTrain: tr.ids.length,
        seed: ctx.seed,
        stepLoss: headStepLoss(tf, head, loss, trainSet),
        validate: () => evaluateHead(tf, head, loss, valSet),
        checkpointDir: ckDir,
        signal: ctx.signal,
        log: ctx.log,
        onEpoch: (r) => {
          ctx.log(
            `epoch ${r.epoch}: loss ${r.loss.toFixed(5)}, val loss ${r.val_loss.toFixed(5)}, val micro-F1 ${r.val_micro_f1.toFixed(4)}, lr ${r.lr.toExponential(1)}, ${r.samples_per_s.toFixed(0)} samples/s`,
          );
          ctx.progress(r.epoch, p.epochs, 'epochs');
        },
      });

      const splits: Parameters<typeof writeModelOutputs>[2] = {};
      for (const [name, d] of [
        ['validation', va],
        ['holdout', ho],
        ['test', te],
      ] as const) {
        if (d)
          splits[name] = {
            ids: d.ids,
            labels: d.labels,
            probs: predictHead(tf, head, d.x),
            missing: index.splits[name]?.missing ?? 0,
          };
      }
      metrics = await writeModelOutputs(
        ctx.out,
        labels,
        splits,
        result.history,
        `train-head on ${index.backbone.name}`,
      );
      const model = head.toLayersModel();
      await model.save(
        dirSaveHandler(tf, join(ctx.out, 'model'), { tailor: { kind: 'head', features: index.backbone, labels } }),
      );
      model.dispose();
    } finally {
      head.dispose();
    }
    await removeCheckpoint(ckDir);

    const last = result.history[result.history.length - 1];
    ctx.metrics({
      ...metrics,
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
    });
    const v = metrics.validation as { micro_f1: number };
    const ho2 = metrics.holdout as { micro_f1: number } | undefined;
    ctx.log(`validation micro-F1 ${v.micro_f1.toFixed(4)}${ho2 ? `, holdout ${ho2.micro_f1.toFixed(4)}` : ''} at 0.5`);
  },
});
