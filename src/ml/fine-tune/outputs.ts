/**
 * What fine-tune-backbone writes: the model outputs every model stage writes (predictions,
 * epochs, learning curve; src/ml/model-report.ts), the whole network (images in, probabilities
 * out) as a LayersModel, and the fine-tuning part of metrics.json.
 */
import { join } from 'node:path';
import type { TF } from '../backend.js';
import type { Backbone } from '../backbones.js';
import { graphToLayersModel } from '../graph-layers.js';
import { dirSaveHandler } from '../model-io.js';
import { writeModelOutputs, type ScoredSplit, type SplitOutput } from '../model-report.js';
import type { EpochRecord, TrainResult } from '../trainer.js';
import type { ActivationCache } from './activations.js';
import type { HeadPhase } from './head-phase.js';
import type { FineTunePlan } from './plan.js';
import type { FineTuneData } from './rows.js';
import type { TunedNetwork } from './tail-phase.js';

/** Probabilities of validation, holdout and test through the tuned network; returns the score metrics. */
export async function writeFineTuneOutputs(
  tf: TF,
  out: string,
  job: {
    labels: string[];
    net: TunedNetwork;
    head: HeadPhase;
    data: FineTuneData;
    acts: ActivationCache;
    plan: FineTunePlan;
    backbone: Backbone;
    history: EpochRecord[];
  },
): Promise<Record<string, unknown>> {
  const { labels, net, data, acts, plan, backbone } = job;
  const splits: Partial<Record<ScoredSplit, SplitOutput>> = {};
  for (const s of ['validation', 'holdout', 'test'] as const) {
    const d = data[s];
    if (!d) continue;
    splits[s] = {
      ids: (acts.images[s] ?? []).map((i) => i.imageId),
      labels: (acts.images[s] ?? []).map((i) => i.labels),
      probs: net.evaluate(d, labels.length, job.head.loss).probs,
      missing: acts.missing[s] ?? 0,
    };
  }
  const metrics = await writeModelOutputs(out, labels, splits, job.history, `fine-tune-backbone on ${backbone.name}`);
  net.tail.writeBack();
  const model = graphToLayersModel(tf, plan.graph, plan.ends, net.head);
  await model.save(
    dirSaveHandler(tf, join(out, 'model'), {
      tailor: {
        kind: 'fine-tuned',
        backbone: backbone.id,
        inputSize: backbone.inputSize,
        preprocess: backbone.preprocess,
        labels,
        trained: plan.tail.trainable,
      },
    }),
  );
  model.dispose();
  return metrics;
}

/** The `fine_tune` object of metrics.json. */
export function fineTuneMetrics(job: {
  backend: string;
  plan: FineTunePlan;
  head: HeadPhase;
  tune: TrainResult | undefined;
  history: EpochRecord[];
  acts: ActivationCache;
  seconds: number;
}): Record<string, unknown> {
  const { plan, head, tune, history } = job;
  const perEpoch = (phase: string): number | null => {
    const rs = history.filter((r) => r.phase === phase);
    return rs.length ? rs.reduce((s, r) => s + r.seconds, 0) / rs.length : null;
  };
  const trainable = new Set(plan.tail.trainable);
  const trainableParams = plan.tail.nodes
    .filter((n) => trainable.has(n.id))
    .reduce(
      (s, n) =>
        s +
        (n.op === 'affine'
          ? n.scale.length * 2
          : n.op === 'conv' || n.op === 'dwconv'
            ? n.kernel.length + n.bias.length
            : 0),
      0,
    );
  return {
    backend: job.backend,
    route: plan.route,
    ops: plan.flavour,
    trained_layers: plan.tail.trainable,
    cut: plan.tail.cut,
    cache_point: plan.cacheAt,
    trainable_backbone_params: trainableParams,
    feature_dim: head.featureDim,
    activations: { computed: job.acts.computed, reused: job.acts.reused, seconds: job.acts.seconds },
    head_phase: {
      epochs: head.result.history.length,
      best_epoch: head.result.bestEpoch + 1,
      seconds_per_epoch: perEpoch('head'),
      validation_micro_f1: head.scores.validation.micro_f1,
      holdout_micro_f1: head.scores.holdout?.micro_f1 ?? null,
    },
    fine_tune_phase: tune
      ? {
          epochs: tune.history.filter((r) => r.phase === 'fine-tune').length,
          best_epoch: tune.bestEpoch < 0 ? null : tune.bestEpoch + 1,
          seconds_per_epoch: perEpoch('fine-tune'),
          stopped_early: tune.stoppedEarly,
        }
      : null,
    seconds: job.seconds,
  };
}
