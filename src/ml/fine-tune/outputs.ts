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
import type { TunedNetwork } from './tail-phase.js';

/** Probabilities of validation, holdout and test through the tuned network; returns the score metrics. */
export async function writeFineTuneOutputs(
  tf: TF,
  out: string,
  job: {
    labels: string[];
    net: TunedNetwork;
    /** Probabilities of a split's images through the tuned network (undefined: split absent). */
    probsOf(s: ScoredSplit): Promise<Float32Array | undefined>;
    acts: ActivationCache;
    plan: FineTunePlan;
    backbone: Backbone;
    history: EpochRecord[];
    /** The split stage's folder: scores over every image of a split (failed downloads included). */
    splitDir: string;
    log(m: string): void;
  },
): Promise<Record<string, unknown>> {
  const { labels, net, acts, plan, backbone } = job;
  const splits: Partial<Record<ScoredSplit, SplitOutput>> = {};
  for (const s of ['validation', 'holdout', 'test'] as const) {
    const probs = await job.probsOf(s);
    if (!probs) continue;
    splits[s] = {
      ids: (acts.images[s] ?? []).map((i) => i.imageId),
      labels: (acts.images[s] ?? []).map((i) => i.labels),
      probs,
      missing: acts.missing[s] ?? 0,
    };
  }
  const metrics = await writeModelOutputs(out, labels, splits, job.history, `fine-tune-backbone on ${backbone.name}`, {
    splitDir: job.splitDir,
    log: job.log,
  });
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
  /** Layers unfrozen as Keras counts them (the `unfreeze` param). */
  unfreeze: number;
  head: HeadPhase;
  tune: TrainResult | undefined;
  /** The tuned network's micro-F1 at 0.5 (what validation/holdout in metrics.json report). */
  tuned: { validation: number; holdout: number | null };
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
    unfrozen_keras_layers: job.unfreeze,
    trained_layers: plan.tail.trainable,
    // The source model's layers inside the trained nodes (a folded conv holds its BN and ReLU).
    trained_source_layers: plan.graph.layers ? plan.tail.trainable.flatMap((id) => plan.graph.layers![id] ?? []) : null,
    cut: plan.tail.cut,
    cache_point: plan.cacheAt,
    trainable_backbone_params: trainableParams,
    feature_dim: head.featureDim,
    activations: { computed: job.acts.computed, reused: job.acts.reused, seconds: job.acts.seconds },
    // Training images the cached route's memory cap left out (0 on the images route, which streams).
    train_images_left_out: job.acts.skipped,
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
    tuned_phase: { validation_micro_f1: job.tuned.validation, holdout_micro_f1: job.tuned.holdout },
    beat_head_phase_on_validation: job.tuned.validation > head.scores.validation.micro_f1,
    seconds: job.seconds,
  };
}

/** The log line comparing the tuned network with its own head phase on validation. */
export function versusHeadLine(head: number, tuned: number, tune: TrainResult | undefined): string {
  if (!tune) return `no fine-tuning epochs (fine_tune_epochs: 0): the network is the head phase's`;
  if (tuned > head)
    return `fine-tuning beat its head phase on validation: micro-F1 ${tuned.toFixed(4)} vs ${head.toFixed(4)}`;
  const kept = tune.bestEpoch < 0 ? ' (no epoch improved on it, so the head phase weights were kept)' : '';
  return `fine-tuning did NOT beat its head phase on validation: micro-F1 ${tuned.toFixed(4)} vs ${head.toFixed(4)}${kept}`;
}
