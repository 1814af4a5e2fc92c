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
import { splitScores } from '../model-report.js';
import type { EpochRecord, TrainResult } from '../trainer.js';
import type { ActivationCache } from './activations.js';
import { repeatLabels, type HeadFeatures } from './rows.js';
import type { ValidationScale } from './validation-scale.js';

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
  features: HeadFeatures;
  acts: ActivationCache;
  yTrain: Uint8Array;
  yVal: Uint8Array;
  validationScale: ValidationScale;
  checkpointDir: string;
  /** The split stage's folder: the head phase is scored over every image, like the tuned network. */
  splitDir: string;
  signal: AbortSignal;
  log(m: string): void;
  onEpoch(r: EpochRecord): void;
}

export async function trainHeadPhase(job: HeadPhaseJob): Promise<HeadPhase> {
  const { tf, p, features } = job;
  const L = job.labels.length;
  const fTrain = features.train();
  const yTrainRows = repeatLabels(job.yTrain, L, features.rowsPer);
  const fVal = features.of('validation')!;
  const { head, loss, result } = await trainDenseHead({
    tf,
    p,
    seed: job.seed,
    train: { x: fTrain, y: yTrainRows },
    validation: { x: fVal, y: job.yVal, ...job.validationScale },
    images: { y: job.yTrain, count: fTrain.rows / features.rowsPer },
    labels: L,
    checkpointDir: job.checkpointDir,
    signal: job.signal,
    log: job.log,
    onEpoch: job.onEpoch,
  });
  try {
    // On the scale of the tuned network's scores (every image of the split), so the two compare.
    const scoreOf = async (s: 'validation' | 'holdout'): Promise<MetricSummary | undefined> => {
      const f = features.of(s);
      const list = job.acts.images[s] ?? [];
      if (!f) return undefined;
      const out = {
        ids: list.map((i) => i.imageId),
        labels: list.map((i) => i.labels),
        probs: predictHead(tf, head, f),
        missing: job.acts.missing[s] ?? 0,
      };
      const preds = { labels: job.labels, splits: { [s]: { ids: out.ids, probs: out.probs } } };
      return splitScores({ dir: 'the head phase', preds }, s, out, job.labels, {
        splitDir: job.splitDir,
        log: () => {},
      });
    };
    const scores = { validation: (await scoreOf('validation'))!, holdout: await scoreOf('holdout') };
    return { head, loss, result, scores, featureDim: fTrain.dim };
  } catch (e) {
    head.dispose();
    throw e;
  }
}
