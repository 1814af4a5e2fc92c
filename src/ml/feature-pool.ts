/**
 * Data-parallel feature extraction: N worker threads, each with its own backend and backbone, fed
 * batches of image bytes. `submit` resolves when a worker has room (at most `depth` batches queued
 * per worker: one running, the next decoding), which is the back-pressure that keeps memory flat;
 * the promise it returns resolves with that batch's outputs.
 *
 * On a native backend (tfjs-node, tfjs-node-gpu) the pool always runs in this thread, whatever
 * `workers` says: libtensorflow cannot be loaded a second time in a worker thread
 * (tensorflow/tfjs#2079) and already spreads one batch over every core (or the GPU).
 */
import type { Worker } from 'node:worker_threads';
import { FeatureEngine, type BatchResult, type EngineConfig, type EngineInfo } from './feature-engine.js';
import type { FromWorker, ToWorker } from './feature-worker.js';
import { startWorker } from './ts-worker.js';
import { needsConversion } from './backbones.js';
import { isNative, mayBeNative, useBackend } from './backend.js';
import { noteBackend } from './backend-record.js';

export interface PoolOptions extends EngineConfig {
  /** Worker threads; 0 runs in this thread (no parallelism, no start-up cost). */
  workers: number;
  /** Batches queued per worker (2: one running, one decoding). */
  depth?: number;
  signal?: AbortSignal;
}

interface Slot {
  inFlight: number;
  send(seq: number, images: Uint8Array[]): void;
  close(): Promise<void>;
}

type Pending = { resolve: (r: BatchResult) => void; reject: (e: Error) => void };

export class FeaturePool {
  private seq = 0;
  private readonly pending = new Map<number, Pending & { slot: Slot }>();
  private waiters: Array<() => void> = [];
  private failure: Error | undefined;

  private constructor(
    private readonly slots: Slot[],
    private readonly depth: number,
    readonly info: EngineInfo,
    /** Worker threads in use; 0 when the pool runs in this thread. */
    readonly workers: number,
  ) {}

  static async start(opts: PoolOptions): Promise<FeaturePool> {
    const depth = opts.depth ?? 2;
    const config: EngineConfig = {
      backend: opts.backend,
      spec: opts.spec,
      cacheDir: opts.cacheDir,
      outputs: opts.outputs,
      multiscale: opts.multiscale,
      flip: opts.flip,
    };
    let pool: FeaturePool | undefined;
    const onResult = (seq: number, r: BatchResult | Error): void => pool?.settle(seq, r);
    // Loading the backend here decides: native runs in-process; if the native load fails, auto
    // falls to wasm in this thread too, and the workers then start on wasm as asked.
    const native = opts.workers > 0 && mayBeNative(opts.backend) && isNative((await useBackend(opts.backend)).name);
    const workers = native ? 0 : opts.workers;
    if (workers === 0) {
      const engine = await FeatureEngine.create(config);
      const slot = inProcessSlot(engine, onResult);
      pool = new FeaturePool([slot], depth, engine.info, 0);
    } else {
      // When the model must be converted, the first worker fills the cache and the others then
      // load from it instead of each converting; otherwise all start at once.
      const slots: Array<Awaited<ReturnType<typeof workerSlot>>> = [];
      if (needsConversion(opts.spec, opts.cacheDir)) slots.push(await workerSlot(config, onResult));
      const started = await Promise.allSettled(
        Array.from({ length: workers - slots.length }, () => workerSlot(config, onResult)),
      );
      for (const r of started) if (r.status === 'fulfilled') slots.push(r.value);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // Do not leave the workers that did start running.
        await Promise.all(slots.map((s) => s.slot.close()));
        throw failed.reason;
      }
      pool = new FeaturePool(
        slots.map((s) => s.slot),
        depth,
        slots[0]!.info,
        workers,
      );
      noteBackend({ name: slots[0]!.info.backend }); // the workers' backend (wasm or cpu) is the stage's
    }
    opts.signal?.addEventListener('abort', () => pool?.fail(new Error('aborted')), { once: true });
    return pool;
  }

  /** Number of parallel slots. */
  get size(): number {
    return this.slots.length;
  }

  /**
   * Queue a batch; resolves once a worker accepted it (back-pressure) with a handle whose `result`
   * settles when the batch is done (wrapped: a promise resolving to a promise would flatten).
   */
  async submit(images: Uint8Array[]): Promise<{ result: Promise<BatchResult> }> {
    for (;;) {
      if (this.failure) throw this.failure;
      const slot = this.slots.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
      if (slot.inFlight < this.depth) {
        const seq = this.seq++;
        slot.inFlight++;
        const done = new Promise<BatchResult>((resolve, reject) => this.pending.set(seq, { resolve, reject, slot }));
        slot.send(seq, images);
        return { result: done };
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private settle(seq: number, r: BatchResult | Error): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    p.slot.inFlight--;
    if (r instanceof Error) {
      p.reject(r);
      this.fail(r);
    } else {
      p.resolve(r);
    }
    this.wake();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const [, p] of this.pending) p.reject(e);
    this.pending.clear();
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Stop the workers (pending batches are rejected). */
  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.close()));
  }
}

function inProcessSlot(engine: FeatureEngine, onResult: (seq: number, r: BatchResult | Error) => void): Slot {
  let chain = Promise.resolve();
  const slot: Slot = {
    inFlight: 0,
    send(seq, images) {
      const decoded = engine.decode(images);
      // Run batches one after another, each as soon as its decode finished.
      chain = chain.then(async () => {
        try {
          onResult(seq, engine.run(await decoded));
        } catch (e) {
          onResult(seq, e instanceof Error ? e : new Error(String(e)));
        }
      });
    },
    async close() {
      await chain;
      engine.dispose();
    },
  };
  return slot;
}

async function workerSlot(
  config: EngineConfig,
  onResult: (seq: number, r: BatchResult | Error) => void,
): Promise<{ slot: Slot; info: EngineInfo }> {
  const worker: Worker = startWorker(
    new URL('./feature-worker.ts'.replace(/\.ts$/, extOf(import.meta.url)), import.meta.url),
    { config },
  );
  let exited = false;
  const info = await new Promise<EngineInfo>((resolve, reject) => {
    const onMsg = (m: FromWorker): void => {
      if (m.type === 'ready') {
        worker.off('message', onMsg);
        resolve(m.info);
      } else if (m.type === 'error') {
        reject(new Error(`feature worker failed to start: ${m.message}`));
      }
    };
    worker.on('message', onMsg);
    worker.once('error', (e) => reject(new Error(`feature worker failed to start: ${e.message}`)));
    worker.once('exit', (code) => {
      exited = true;
      reject(new Error(`feature worker exited with code ${code} while starting`));
    });
  }).catch(async (e: Error) => {
    await worker.terminate();
    throw e;
  });
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'result') onResult(m.seq, { values: m.values, errors: m.errors });
    else if (m.type === 'error' && m.seq !== undefined) onResult(m.seq, new Error(`feature worker: ${m.message}`));
  });
  worker.on('error', (e) => onAll(new Error(`feature worker crashed: ${e.message}`)));
  worker.on('exit', (code) => {
    exited = true;
    if (code !== 0) onAll(new Error(`feature worker exited with code ${code}`));
  });
  const inflight = new Set<number>();
  const onAll = (e: Error): void => {
    for (const seq of inflight) onResult(seq, e);
  };
  const slot: Slot = {
    inFlight: 0,
    send(seq, images) {
      inflight.add(seq);
      // Transfer, not copy: each image must own its whole buffer (a slice of a shared one is copied).
      const owned = images.map((i) => (i.byteOffset === 0 && i.byteLength === i.buffer.byteLength ? i : i.slice()));
      const buffers = [...new Set(owned.map((i) => i.buffer as ArrayBuffer))];
      const msg: ToWorker = { type: 'batch', seq, images: owned };
      worker.postMessage(msg, buffers);
    },
    async close() {
      if (!exited) await worker.terminate();
    },
  };
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'result' || (m.type === 'error' && m.seq !== undefined)) inflight.delete(m.seq!);
  });
  return { slot, info };
}

/** `.ts` when running from sources, `.js` when compiled. */
function extOf(url: string): string {
  // tsx may add a query (?tsx-namespace=...) to the URL of a module it loaded.
  return new URL(url).pathname.endsWith('.ts') ? '.ts' : '.js';
}
