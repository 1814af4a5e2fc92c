/**
 * The training loop shared by train-head and fine-tune-backbone: seeded shuffling, Adam,
 * learning-rate reduction on a validation-loss plateau, early stopping with the best epoch's
 * variables restored, a checkpoint after every epoch and resume from it, per-epoch records.
 *
 *   epoch: shuffle(seed, epoch) -> steps (variableGrads -> Adam) -> validate
 *          -> best? keep variables : wait++ -> plateau? lr *= factor -> patience? stop
 *          -> checkpoint
 */
import type { Scalar, Variable } from '@tensorflow/tfjs';
import type { TF } from './backend.js';
import { Adam } from './adam.js';
import type { Monitor } from './choices.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { hashSeed, mulberry32, shuffleInPlace } from '../random.js';

export interface EpochRecord {
  phase: string;
  epoch: number;
  loss: number;
  val_loss: number;
  val_micro_f1: number;
  lr: number;
  seconds: number;
  samples_per_s: number;
}

export interface Schedule {
  epochs: number;
  batchSize: number;
  lr: number;
  /** Multiply the learning rate by this after `lrPatience` epochs without a better val loss. */
  lrFactor: number;
  lrPatience: number;
  minLr: number;
  /** Stop after this many epochs without a better monitored value. */
  patience: number;
  /**
   * What picks the best epoch and triggers early stopping: validation loss, or validation
   * micro-F1 at 0.5 (the target metric; with a weighted or focal loss the two disagree).
   * The learning-rate plateau always watches the validation loss.
   */
  monitor: Monitor;
}

export interface TrainerOptions extends Schedule {
  tf: TF;
  /** Name of this training phase (seeds and records), e.g. "head" or "fine-tune". */
  phase: string;
  params: Variable[];
  nTrain: number;
  seed: number;
  /** Loss of one training batch (called inside tf.variableGrads), given what `prepare` returned. */
  stepLoss(indices: Int32Array, stepSeed: number, prepared?: unknown): Scalar;
  /**
   * Optional asynchronous preparation of a batch (e.g. decoding images); the next batch's is
   * started before the current step runs, so it overlaps the step.
   */
  prepare?(indices: Int32Array, stepSeed: number): Promise<unknown>;
  /** Validation loss and micro-F1 at 0.5 with the current variables. */
  validate(): { loss: number; microF1: number };
  /** Checkpoint folder (already keyed by the stage's params and inputs). */
  checkpointDir?: string;
  signal?: AbortSignal;
  log?(message: string): void;
  onEpoch?(record: EpochRecord): void;
  /** Records of earlier phases, carried into checkpoints so a resumed run reports them too. */
  history?: EpochRecord[];
  /**
   * Validate the starting variables first and count them as the best so far: a phase that
   * continues from an earlier one then never ends worse (on validation loss) than it started.
   */
  startAsBest?: boolean;
}

interface Meta {
  phase: string;
  epoch: number;
  lr: number;
  adamStep: number;
  /** Best monitored value, as a number to minimise (micro-F1 is negated). */
  best: number;
  bestEpoch: number;
  wait: number;
  /** Best validation loss, for the learning-rate plateau. */
  bestValLoss: number;
  lrWait: number;
  history: EpochRecord[];
}

export interface TrainResult {
  history: EpochRecord[];
  bestEpoch: number;
  /** The best epoch's monitored value (loss, or micro-F1). */
  bestValue: number;
  resumedAt: number | null;
  stoppedEarly: boolean;
}

const read = (v: Variable): Float32Array => Float32Array.from(v.dataSync() as Float32Array);

/** Train `params` to minimise `stepLoss`; leaves the best epoch's values in the variables. */
export async function train(o: TrainerOptions): Promise<TrainResult> {
  const { tf, params } = o;
  const adam = new Adam(tf, params, o.lr);
  let best = params.map(read);
  let meta: Meta = {
    phase: o.phase,
    epoch: -1,
    lr: o.lr,
    adamStep: 0,
    best: Infinity,
    bestEpoch: -1,
    wait: 0,
    bestValLoss: Infinity,
    lrWait: 0,
    history: [...(o.history ?? [])],
  };
  let resumedAt: number | null = null;

  if (o.checkpointDir) {
    const ck = await loadCheckpoint<Meta>(o.checkpointDir);
    const n = params.length;
    if (ck && ck.meta.phase === o.phase && ck.arrays.length === 4 * n) {
      meta = ck.meta;
      params.forEach((p, i) => p.assign(tf.tensor(ck.arrays[i]!, p.shape)));
      adam.restore(ck.arrays.slice(n, 3 * n), meta.adamStep);
      best = ck.arrays.slice(3 * n);
      adam.lr = meta.lr;
      resumedAt = meta.epoch + 1;
      o.log?.(`${o.phase}: resuming from the checkpoint after epoch ${meta.epoch + 1}`);
    }
  }

  const monitored = (v: { loss: number; microF1: number }): number => (o.monitor === 'val_loss' ? v.loss : -v.microF1);
  const shown = (x: number): string =>
    o.monitor === 'val_loss' ? `val loss ${x.toFixed(5)}` : `val micro-F1 ${(-x).toFixed(4)}`;
  if (o.startAsBest && resumedAt === null) {
    const v = o.validate();
    meta.best = monitored(v);
    meta.bestValLoss = v.loss;
    o.log?.(`${o.phase}: starting point ${shown(meta.best)}`);
  }
  let stoppedEarly = meta.wait >= o.patience;
  try {
    for (let epoch = meta.epoch + 1; epoch < o.epochs && !stoppedEarly; epoch++) {
      const t0 = performance.now();
      const order = Int32Array.from(
        shuffleInPlace(
          Array.from({ length: o.nTrain }, (_, i) => i),
          mulberry32(hashSeed(o.seed, o.phase, 'epoch', epoch)),
        ),
      );
      let lossSum = 0;
      let lastYield = performance.now();
      const steps = Math.ceil(o.nTrain / o.batchSize);
      const batchOf = (step: number): Int32Array =>
        order.subarray(step * o.batchSize, Math.min(o.nTrain, (step + 1) * o.batchSize));
      const seedOf = (step: number): number => hashSeed(o.seed, o.phase, epoch, step);
      let next = o.prepare?.(batchOf(0), seedOf(0));
      for (let step = 0; step < steps; step++) {
        const idx = batchOf(step);
        const prepared = next ? await next : undefined;
        next = o.prepare && step + 1 < steps ? o.prepare(batchOf(step + 1), seedOf(step + 1)) : undefined;
        const { value, grads } = tf.variableGrads(() => o.stepLoss(idx, seedOf(step), prepared), params);
        adam.apply(params.map((p) => grads[p.name]!));
        lossSum += (value.dataSync()[0] ?? 0) * idx.length;
        value.dispose();
        tf.dispose(grads);
        // Training is synchronous on wasm: let abort signals and progress through now and then.
        if (performance.now() - lastYield > 200) {
          await new Promise((r) => setImmediate(r));
          lastYield = performance.now();
          o.signal?.throwIfAborted();
        }
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      const val = o.validate();
      const record: EpochRecord = {
        phase: o.phase,
        epoch: meta.history.filter((h) => h.phase === o.phase).length + 1,
        loss: lossSum / o.nTrain,
        val_loss: val.loss,
        val_micro_f1: val.microF1,
        lr: adam.lr,
        seconds: (performance.now() - t0) / 1000,
        samples_per_s: o.nTrain / trainSeconds,
      };
      meta.history.push(record);
      meta.epoch = epoch;
      if (monitored(val) < meta.best - 1e-6) {
        meta.best = monitored(val);
        meta.bestEpoch = epoch;
        meta.wait = 0;
        best = params.map(read);
      } else {
        meta.wait++;
        if (meta.wait >= o.patience) stoppedEarly = true;
      }
      if (val.loss < meta.bestValLoss - 1e-6) {
        meta.bestValLoss = val.loss;
        meta.lrWait = 0;
      } else if (++meta.lrWait >= o.lrPatience && adam.lr > o.minLr) {
        adam.lr = Math.max(o.minLr, adam.lr * o.lrFactor);
        meta.lrWait = 0;
        o.log?.(`${o.phase}: val loss flat for ${o.lrPatience} epochs, learning rate -> ${adam.lr.toExponential(2)}`);
      }
      meta.lr = adam.lr;
      meta.adamStep = adam.step;
      o.onEpoch?.(record);
      if (o.checkpointDir) await saveCheckpoint(o.checkpointDir, meta, [...params.map(read), ...adam.state(), ...best]);
      o.signal?.throwIfAborted();
    }
  } finally {
    adam.dispose();
  }
  if (stoppedEarly)
    o.log?.(
      `${o.phase}: early stop, best ${meta.bestEpoch < 0 ? 'was the starting point' : `epoch ${meta.bestEpoch + 1}`} (${shown(meta.best)})`,
    );
  params.forEach((p, i) => p.assign(tf.tensor(best[i]!, p.shape)));
  return {
    history: meta.history,
    bestEpoch: meta.bestEpoch,
    bestValue: o.monitor === 'val_loss' ? meta.best : -meta.best,
    resumedAt,
    stoppedEarly,
  };
}
