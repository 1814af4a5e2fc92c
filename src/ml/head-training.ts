/**
 * What train-head and fine-tune-backbone's head phase share around the training loop: the loss
 * the head params choose, checkpoint keys (everything that shapes training, the code key
 * included, so an edit to the training code never resumes a checkpoint of the old code), and the
 * per-epoch log line.
 */
import { createHash, type Hash } from 'node:crypto';
import { codeScopedDir } from '../stage-kit/state.js';
import { checkpointDir } from './checkpoint.js';
import { HEAD_PARAMS, type HeadParams } from './head-params.js';
import { positiveWeights } from './losses.js';
import type { LossConfig } from './losses.js';
import type { EpochRecord } from './trainer.js';

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
