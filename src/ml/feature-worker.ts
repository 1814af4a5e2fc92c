/**
 * Worker-thread entry of the feature pool: one backend and one backbone per worker (wasm runs one
 * thread per instance, so workers are how a machine's cores get used). Messages: `init` once, then
 * `batch` many times; each batch's decode starts on arrival, so it overlaps the running batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FeatureEngine, type EngineConfig } from './feature-engine.js';

export type ToWorker = { type: 'batch'; seq: number; images: Uint8Array[] };
export type FromWorker =
  | { type: 'ready'; info: FeatureEngine['info'] }
  | { type: 'result'; seq: number; values: Float32Array[]; errors: Array<string | null> }
  | { type: 'error'; seq?: number; message: string };

const port = parentPort;
if (!port) throw new Error('internal error: feature-worker.ts must run in a worker thread');
const cfg = (workerData as { config: EngineConfig }).config;

const queue: Array<{ seq: number; decoded: ReturnType<FeatureEngine['decode']> }> = [];
let engine: FeatureEngine | undefined;
let busy = false;

async function drain(): Promise<void> {
  if (busy || !engine) return;
  busy = true;
  try {
    for (let job = queue.shift(); job; job = queue.shift()) {
      try {
        const result = engine.run(await job.decoded);
        const msg: FromWorker = { type: 'result', seq: job.seq, ...result };
        port!.postMessage(
          msg,
          result.values.map((v) => v.buffer as ArrayBuffer),
        );
      } catch (e) {
        port!.postMessage({ type: 'error', seq: job.seq, message: (e as Error).message } satisfies FromWorker);
      }
    }
  } finally {
    busy = false;
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type !== 'batch' || !engine) return;
  queue.push({ seq: msg.seq, decoded: engine.decode(msg.images) });
  void drain();
});

try {
  engine = await FeatureEngine.create(cfg);
  port.postMessage({ type: 'ready', info: engine.info } satisfies FromWorker);
} catch (e) {
  port.postMessage({ type: 'error', message: (e as Error).message } satisfies FromWorker);
}
