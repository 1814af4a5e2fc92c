/**
 * fine-tune-backbone's first phase: a new head trained on the frozen trunk's features (every
 * training orientation, the originals of validation) until it converges, with train-head's
 * schedule, loss and checkpoints; its validation and holdout scores are reported beside the
 * fine-tuned ones.
 */
import type { TF } from '../backend.js';
import type { DenseHead } from '../dense-head.js';
import type { HeadParams } from '../head-params.js';
import { predictHead } from '../head-task.js';
import { trainDenseHead } from '../head-training.js';
import type { LossConfig } from '../losses.js';
import type { MetricSummary } from '../metrics.js';
import { score } from '../model-report.js';
import type { EpochRecord, TrainResult } from '../trainer.js';
import type { GraphWeights } from '../graph-infer.js';
import { originalRows } from '../cut-data.js';
import type { ActivationCache } from './activations.js';
import type { FineTunePlan } from './plan.js';
import { allRows, frozenFeatures, repeatLabels, type FineTuneData } from './rows.js';

export interface HeadPhase {
  head: DenseHead;
  loss: LossConfig;
  result: TrainResult;
  scores: { validation: MetricSummary; holdout?: MetricSummary };
  featureDim: number;
}

export interface HeadPhaseJob {
  tf: TF;
  p: HeadParams;
  seed: number;
  labels: string[];
  plan: FineTunePlan;
  weights: GraphWeights;
  data: FineTuneData;
  acts: ActivationCache;
  yTrain: Uint8Array;
  yVal: Uint8Array;
  checkpointDir: string;
  signal: AbortSignal;
  log(m: string): void;
  onEpoch(r: EpochRecord): void;
}

export async function trainHeadPhase(job: HeadPhaseJob): Promise<HeadPhase> {
  const { tf, p, data, plan, weights } = job;
  const L = job.labels.length;
  const fTrain = frozenFeatures(tf, plan, weights, data.train, allRows(data.train));
  const yTrainRows = repeatLabels(job.yTrain, L, data.train.rowsPer);
  const fVal = frozenFeatures(tf, plan, weights, data.validation, originalRows(data.validation));
  const { head, loss, result } = await trainDenseHead({
    tf,
    p,
    seed: job.seed,
    train: { x: fTrain, y: yTrainRows },
    validation: { x: fVal, y: job.yVal },
    images: { y: job.yTrain, count: data.train.images },
    labels: L,
    checkpointDir: job.checkpointDir,
    signal: job.signal,
    log: job.log,
    onEpoch: job.onEpoch,
  });
  try {
    const scoreOf = (s: 'validation' | 'holdout'): MetricSummary | undefined => {
      const d = data[s];
      const list = job.acts.images[s] ?? [];
      if (!d) return undefined;
      const probs = predictHead(tf, head, frozenFeatures(tf, plan, weights, d, originalRows(d)));
      return score(
        { ids: list.map((i) => i.imageId), labels: list.map((i) => i.labels), probs, missing: 0 },
        job.labels,
      );
    };
    const scores = { validation: scoreOf('validation')!, holdout: scoreOf('holdout') };
    return { head, loss, result, scores, featureDim: fTrain.dim };
  } catch (e) {
    head.dispose();
    throw e;
  }
}
