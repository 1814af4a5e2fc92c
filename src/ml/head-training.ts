/**
 * What train-head and fine-tune-backbone's head phase share: training a dense head on feature
 * rows, the loss the head params choose, checkpoint keys (everything that shapes training, the code key
 * included, so an edit to the training code never resumes a checkpoint of the old code), and the
 * per-epoch log line.
 */
import { createHash, type Hash } from 'node:crypto';
import { codeScopedDir } from '../stage-kit/state.js';
import { checkpointDir } from './checkpoint.js';
import type { TF } from './backend.js';
import { DenseHead, fitStandardizer, priorLogits } from './dense-head.js';
import { HEAD_PARAMS, scheduleOf, type HeadParams } from './head-params.js';
import { evaluateHead, headStepLoss, type LabelledRows } from './head-task.js';
import { positiveWeights, type LossConfig } from './losses.js';
import { train as trainLoop, type EpochRecord, type TrainResult } from './trainer.js';

/** The loss of the head params, with rare labels weighted up for weighted_bce. */
export function headLoss(p: HeadParams, y: Uint8Array, rows: number, labels: number): LossConfig {
  return {
    name: p.loss,
    gamma: p.focal_gamma,
    posWeight: p.loss === 'weighted_bce' ? positiveWeights(y, rows, labels, p.pos_weight_max) : undefined,
  };
}

/** The head params alone (a stage's params also hold others), in schema order. */
export function headParamsOf(p: HeadParams): Record<string, unknown> {
  return Object.fromEntries(Object.keys(HEAD_PARAMS).map((k) => [k, p[k as keyof HeadParams]]));
}

/**
 * A checkpoint key: a hash of `meta` (JSON) and of whatever `data` feeds in (the training rows),
 * with the code key first. 24 hex characters.
 */
export function checkpointKey(codeKey: string, meta: unknown, data?: (h: Hash) => void): string {
  const h = createHash('sha256').update(JSON.stringify({ code: codeKey, meta }));
  data?.(h);
  return h.digest('hex').slice(0, 24);
}

/** The folder of a checkpoint, in the stage state's checkpoints of this code (older code's are removed). */
export async function checkpointFolder(ctx: { state: string; codeKey: string }, name: string): Promise<string> {
  return checkpointDir(await codeScopedDir(ctx, 'checkpoints'), name);
}

/** "head epoch 3: loss 0.12345, val loss ..., val micro-F1 ..., lr 1.0e-3, 2.1 s". */
export function epochLine(r: EpochRecord, withPhase = true): string {
  const phase = withPhase ? `${r.phase} ` : '';
  return `${phase}epoch ${r.epoch}: loss ${r.loss.toFixed(5)}, val loss ${r.val_loss.toFixed(5)}, val micro-F1 ${r.val_micro_f1.toFixed(4)}, lr ${r.lr.toExponential(1)}, ${r.seconds.toFixed(1)} s, ${r.samples_per_s.toFixed(0)} samples/s`;
}

export interface DenseHeadJob {
  tf: TF;
  p: HeadParams;
  seed: number;
  /** Training rows (images, or images x orientations) and their labels. */
  train: LabelledRows;
  validation: LabelledRows;
  /** The training images' truth and count: label priors and positive weights come from them. */
  images: { y: Uint8Array; count: number };
  labels: number;
  checkpointDir: string;
  signal: AbortSignal;
  log(m: string): void;
  onEpoch(r: EpochRecord): void;
}

/** A dense head trained on feature rows (standardised, prior-initialised); the caller disposes it. */
export async function trainDenseHead(
  job: DenseHeadJob,
): Promise<{ head: DenseHead; loss: LossConfig; result: TrainResult }> {
  const { tf, p, train: tr, labels: L } = job;
  const standardizer = p.standardize ? fitStandardizer(tr.x.rows, tr.x.dim, (a, b) => tr.x.range(a, b)) : undefined;
  const head = DenseHead.create(
    tf,
    { inputDim: tr.x.dim, hidden: p.hidden, dropout: p.dropout, labels: L },
    job.seed,
    priorLogits(job.images.y, job.images.count, L),
    standardizer,
  );
  try {
    const loss = headLoss(p, job.images.y, job.images.count, L);
    const result = await trainLoop({
      tf,
      ...scheduleOf(p),
      phase: 'head',
      params: head.variables,
      nTrain: tr.x.rows,
      seed: job.seed,
      stepLoss: headStepLoss(tf, head, loss, tr),
      validate: () => evaluateHead(tf, head, loss, job.validation),
      checkpointDir: job.checkpointDir,
      signal: job.signal,
      log: job.log,
      onEpoch: job.onEpoch,
    });
    return { head, loss, result };
  } catch (e) {
    head.dispose();
    throw e;
  }
}
