/**
 * fine-tune-backbone's second phase: the last N weight layers of the trunk unfrozen and trained
 * with the head at a low learning rate (batches from the route the backend chose), starting from
 * the head phase's best epoch and keeping it unless fine-tuning beats it; and the probabilities of
 * any split through the trained tail and head.
 */
import type { Tensor2D } from '@tensorflow/tfjs';
import type { TF } from '../backend.js';
import type { CutRows } from '../cut-data.js';
import { originalRows, rowTensors } from '../cut-data.js';
import type { DenseHead } from '../dense-head.js';
import { Tail } from '../graph-train.js';
import { gatherLabels } from '../head-task.js';
import type { HeadParams } from '../head-params.js';
import { scheduleOf } from '../head-params.js';
import { lossOf, type LossConfig } from '../losses.js';
import { microF1AtThreshold } from '../metrics.js';
import type { ValidationScale } from './validation-scale.js';
import { train, type EpochRecord, type TrainResult } from '../trainer.js';
import type { TuneParams } from './checkpoint-keys.js';
import type { FineTunePlan } from './plan.js';
import { CHUNK, type CutSource } from './rows.js';
import type { CutBatch, TailBatches } from './routes.js';

/** The trainable tail and the head on top of it. */
export class TunedNetwork {
  readonly tail: Tail;

  constructor(
    private readonly tf: TF,
    private readonly plan: FineTunePlan,
    readonly head: DenseHead,
  ) {
    this.tail = new Tail(tf, plan.tail.cut, plan.tail.nodes, plan.tail.trainable, plan.flavour);
  }

  /** Logits of a batch at the cut through the tail and the head. */
  logits(b: CutBatch, training: boolean, seed: number): Tensor2D {
    const { tf } = this;
    const outs = this.tail.forward(b.x, this.plan.tailOutputs).map((o) => (o.rank === 4 ? tf.mean(o, [1, 2]) : o));
    return this.head.logits(tf.concat([b.frozen, ...outs], 1), training, seed, true);
  }

  /** Probabilities of a split's original images (and the mean loss when the truth is given). */
  evaluate(d: CutRows, labels: number, loss: LossConfig, y?: Uint8Array): { loss: number; probs: Float32Array } {
    const { tf } = this;
    const rows = originalRows(d);
    const probs = new Float32Array(d.images * labels);
    let sum = 0;
    for (let at = 0; at < rows.length; at += 64) {
      const idx = rows.subarray(at, Math.min(rows.length, at + 64));
      const [l, pr] = tf.tidy(() => {
        const z = this.logits(rowTensors(tf, d, idx), false, 0);
        const truth =
          y &&
          tf.tensor2d(
            gatherLabels(
              y,
              labels,
              Int32Array.from(idx, (_, i) => at + i),
            ),
            [idx.length, labels],
          );
        return [truth ? lossOf(tf, loss, z, truth) : tf.scalar(0), tf.sigmoid(z)];
      });
      sum += (l!.dataSync()[0] ?? 0) * idx.length;
      probs.set(pr!.dataSync() as Float32Array, at * labels);
      tf.dispose([l!, pr!]);
    }
    return { loss: rows.length ? sum / rows.length : 0, probs };
  }

  /** evaluate() over a split streamed chunk by chunk from the activation cache. */
  evaluateSource(
    src: CutSource,
    labels: number,
    loss: LossConfig,
    y?: Uint8Array,
  ): { loss: number; probs: Float32Array } {
    const probs = new Float32Array(src.images * labels);
    let sum = 0;
    for (let at = 0; at < src.images; at += CHUNK) {
      const to = Math.min(src.images, at + CHUNK);
      const r = this.evaluate(src.chunk(at, to), labels, loss, y?.subarray(at * labels, to * labels));
      probs.set(r.probs, at * labels);
      sum += r.loss * (to - at);
    }
    return { loss: src.images ? sum / src.images : 0, probs };
  }

  dispose(): void {
    this.tail.dispose();
  }
}

export interface TailPhaseJob {
  tf: TF;
  p: HeadParams & TuneParams;
  seed: number;
  net: TunedNetwork;
  batches: TailBatches;
  loss: LossConfig;
  labels: number;
  /** Training images (the route maps an index to its batch rows). */
  nTrain: number;
  /** Probabilities of the validation images and their mean loss (from the route's data). */
  scoreValidation(): Promise<{ loss: number; probs: Float32Array }>;
  yTrain: Uint8Array;
  yVal: Uint8Array;
  validationScale: ValidationScale;
  /** The head phase's records: the fine-tuning epochs continue them. */
  history: EpochRecord[];
  checkpointDir: string;
  signal: AbortSignal;
  log(m: string): void;
  onEpoch(r: EpochRecord): void;
}

export function trainTailPhase(job: TailPhaseJob): Promise<TrainResult> {
  const { tf, p, net, labels: L } = job;
  return train({
    tf,
    ...scheduleOf(p),
    epochs: p.fine_tune_epochs,
    batchSize: p.fine_tune_batch_size,
    lr: p.fine_tune_lr,
    minLr: Math.min(p.min_lr, p.fine_tune_lr),
    patience: p.fine_tune_patience,
    lrPatience: Math.min(p.lr_patience, p.fine_tune_patience),
    phase: 'fine-tune',
    params: [...net.tail.variables, ...net.head.variables],
    nTrain: job.nTrain,
    seed: job.seed,
    history: job.history,
    startAsBest: true,
    prepare: job.batches.prepare,
    stepLoss: (idx, seed, prepared) => {
      const y = tf.tensor2d(gatherLabels(job.yTrain, L, idx), [idx.length, L]);
      return lossOf(tf, job.loss, net.logits(job.batches.batch(idx, seed, prepared), true, seed), y);
    },
    validate: async () => {
      const v = await job.scoreValidation();
      const { missed, unanswered } = job.validationScale;
      return {
        loss: v.loss,
        microF1: microF1AtThreshold(job.yVal, v.probs, job.yVal.length / L, L, 0.5, missed, unanswered),
      };
    },
    checkpointDir: job.checkpointDir,
    signal: job.signal,
    log: job.log,
    onEpoch: job.onEpoch,
  });
}
