/**
 * The run's side of the BullMQ executor: each ready stage becomes a job in the queue for its GPU
 * count; the result comes back as the job's return value.
 *
 * Completion is seen two ways: QueueEvents for speed, and a reconcile pass every second that
 * reads each outstanding job's state, which is what makes the run correct when events are lost
 * (a Redis restart): a job that vanished (Redis restarted without persistence) is added again,
 * and the worker that takes it finds the output already published under its key, so finished
 * work is never done twice. The same pass streams running jobs' logs back, and fails a waiting
 * job at once when no live worker has the GPUs it asks for.
 *
 * Ctrl-C (the hook's signal): a waiting job is removed; a running one is cancelled through a
 * key and a pub/sub message, and the worker stops its stage.
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { isTreeHash } from '../cache/content-store.js';
import { onAbort } from './abort-fanout.js';
import type { DistributedExecutor, ExecHooks } from './executor.js';
import { jobIdOf, type StageJob, type StageJobResult } from './stage-job.js';
import { capacityProblem, liveWorkers, type WorkerInfo } from './worker-registry.js';
import {
  CANCEL_CHANNEL,
  MAX_GPUS,
  PREFIX,
  WAKE_CHANNEL,
  cancelKey,
  connectionOptions,
  queueName,
} from './redis-names.js';

const KEEP_SECONDS = 7 * 24 * 3600;
const NO_WORKER_NOTICE_MS = 30_000;

interface Pending {
  id: string;
  job: StageJob;
  queue: Queue;
  hooks: ExecHooks;
  resolve(result: StageJobResult): void;
  started: number;
  worker?: string;
  logRows: number;
  cancelling?: number;
  settled: boolean;
  detach?: () => void;
}

export class RedisExecutor implements DistributedExecutor {
  readonly acceptsPending = false;
  private readonly redis: Redis;
  private readonly queues = new Map<number, { queue: Queue; events: QueueEvents }>();
  private readonly pending = new Map<string, Pending>();
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private lastNoWorker = 0;
  private reachable?: Promise<string | undefined>;

  constructor(
    readonly name: string,
    private readonly opts: { connectTimeoutMs?: number } = {},
  ) {
    this.redis = new Redis(name, { maxRetriesPerRequest: null });
    this.redis.on('error', () => undefined); // ioredis reconnects; the reconcile pass catches up
  }

  async run(job: StageJob, hooks: ExecHooks): Promise<StageJobResult> {
    const started = Date.now();
    const early = (message: string): StageJobResult => ({ ok: false, message, worker: '', seconds: 0, logTail: [] });
    if (job.spec.gpu > MAX_GPUS)
      return early(`stage ${job.stage} asks for ${job.spec.gpu} GPUs; at most ${MAX_GPUS} are supported`);
    const unreachable = await this.checkReachable();
    if (unreachable) return early(unreachable);
    const problem = capacityProblem(job.stage, job.spec.gpu, await liveWorkers(this.redis));
    if (problem) return early(problem);
    const { queue } = await this.queueFor(job.spec.gpu);
    const id = jobIdOf(job.run, job.stage);
    return new Promise((resolve) => {
      const p: Pending = { id, job, queue, hooks, resolve, started, logRows: 0, settled: false };
      this.pending.set(id, p);
      p.detach = onAbort(hooks.signal, () => void this.cancel(p));
      if (p.cancelling !== undefined) return;
      void this.enqueue(p);
      this.timer ??= setInterval(() => void this.tick(), 1000);
    });
  }

  /** Whether Redis answers at all (once per executor): a wrong URL fails the run instead of hanging it. */
  checkReachable(timeoutMs = this.opts.connectTimeoutMs ?? 10_000): Promise<string | undefined> {
    this.reachable ??= new Promise((done) => {
      const timer = setTimeout(
        () => done(`cannot reach Redis at ${this.name} (no answer in ${timeoutMs / 1000} s)`),
        timeoutMs,
      );
      this.redis.ping().then(
        () => {
          clearTimeout(timer);
          done(undefined);
        },
        (e: Error) => {
          clearTimeout(timer);
          done(`cannot reach Redis at ${this.name}: ${e.message}`);
        },
      );
    });
    return this.reachable;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.queues.values()].flatMap((q) => [q.events.close(), q.queue.close()]));
    this.redis.disconnect();
  }

  private async queueFor(gpus: number): Promise<{ queue: Queue; events: QueueEvents }> {
    let q = this.queues.get(gpus);
    if (!q) {
      const opts = { connection: connectionOptions(this.name), prefix: PREFIX };
      const queue = new Queue(queueName(gpus), opts);
      const events = new QueueEvents(queueName(gpus), opts);
      queue.on('error', () => undefined);
      events.on('error', () => undefined);
      events.on('active', ({ jobId }) => void this.onActive(jobId));
      events.on('completed', ({ jobId, returnvalue }) => this.onDone(jobId, returnvalue, undefined));
      events.on('failed', ({ jobId, failedReason }) => this.onDone(jobId, undefined, failedReason));
      q = { queue, events };
      this.queues.set(gpus, q);
      await events.waitUntilReady();
    }
    return q;
  }

  private async enqueue(p: Pending): Promise<void> {
    await p.queue.add(p.job.stage, p.job, {
      jobId: p.id,
      attempts: 1,
      removeOnComplete: { age: KEEP_SECONDS },
      removeOnFail: { age: KEEP_SECONDS },
      keepLogs: 500,
    });
    await this.redis.publish(WAKE_CHANNEL, p.id);
  }

  private async onActive(jobId: string): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p) return;
    const job = await Job.fromId(p.queue, jobId).catch(() => undefined);
    const worker = job?.processedBy;
    if (!worker || worker === p.worker) return;
    if (p.worker) p.hooks.onNotice?.(`${p.job.stage}: taken up again by worker ${worker} (${p.worker} stopped)`);
    p.worker = worker;
    p.hooks.onStart?.(worker);
  }

  private onDone(jobId: string, returnvalue: unknown, failedReason: string | undefined): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    void this.settle(p, returnvalue, failedReason);
  }

  private async settle(p: Pending, returnvalue: unknown, failedReason: string | undefined): Promise<void> {
    if (p.settled) return;
    p.settled = true;
    this.pending.delete(p.id);
    p.detach?.();
    const rows = await p.queue.getJobLogs(p.id, 0, -1).catch(() => ({ logs: [] as string[] }));
    const lines = rows.logs.flatMap((r) => r.split('\n'));
    for (const l of rows.logs.slice(p.logRows).flatMap((r) => r.split('\n'))) p.hooks.onLine?.(l);
    const seconds = (Date.now() - p.started) / 1000;
    const worker = p.worker ?? '';
    const result = failedReason === undefined ? parseResult(returnvalue) : undefined;
    if (result) p.resolve({ ...result, seconds: result.ok ? result.seconds : seconds });
    else {
      const message =
        p.cancelling !== undefined
          ? 'interrupted'
          : failedReason === undefined
            ? `internal error: worker ${worker} returned no result`
            : /stalled more than allowable limit/.test(failedReason)
              ? `the stage's worker stopped (killed or lost) too many times; last worker ${worker}`
              : failedReason;
      p.resolve({ ok: false, message, worker, seconds, logTail: lines.slice(-40) });
    }
    if (this.pending.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async cancel(p: Pending): Promise<void> {
    if (p.settled || p.cancelling !== undefined) return;
    p.cancelling = Date.now();
    await this.redis.set(cancelKey(p.id), '1', 'EX', KEEP_SECONDS);
    const removed = await p.queue.remove(p.id).catch(() => 0);
    if (removed === 1 || (await p.queue.getJobState(p.id)) === 'unknown')
      return this.settle(p, undefined, 'interrupted');
    await this.redis.publish(CANCEL_CHANNEL, p.id);
    this.timer ??= setInterval(() => void this.tick(), 1000);
  }

  /** The reconcile pass (see the header). */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      let live: WorkerInfo[] | undefined;
      for (const p of [...this.pending.values()]) {
        const state = await p.queue.getJobState(p.id);
        if (state === 'completed' || state === 'failed') {
          const job = await Job.fromId(p.queue, p.id);
          await this.settle(p, job?.returnvalue, state === 'failed' ? (job?.failedReason ?? 'failed') : undefined);
        } else if (p.cancelling !== undefined) {
          if (Date.now() - p.cancelling > 15_000) await this.settle(p, undefined, 'interrupted');
        } else if (state === 'unknown') {
          p.hooks.onNotice?.(
            `${p.job.stage}: job ${p.id} vanished from Redis (restarted without persistence?): queued again`,
          );
          await this.enqueue(p);
        } else if (state === 'active') {
          await this.onActive(p.id);
          await this.streamLogs(p);
        } else {
          live ??= await liveWorkers(this.redis);
          const problem = capacityProblem(p.job.stage, p.job.spec.gpu, live);
          if (problem && (await p.queue.remove(p.id)) === 1) await this.settle(p, undefined, problem);
          else if (live.length === 0 && Date.now() - this.lastNoWorker > NO_WORKER_NOTICE_MS) {
            this.lastNoWorker = Date.now();
            p.hooks.onNotice?.(
              `no live worker on ${this.name}: ${this.pending.size} stage(s) wait for one (start tailor worker)`,
            );
          }
        }
      }
    } catch {
      // Redis unreachable for now: the next pass tries again
    } finally {
      this.ticking = false;
    }
  }

  private async streamLogs(p: Pending): Promise<void> {
    const rows = await p.queue.getJobLogs(p.id, p.logRows, -1);
    for (const row of rows.logs) for (const line of row.split('\n')) p.hooks.onLine?.(line);
    p.logRows += rows.logs.length;
  }
}

/** A worker's return value, checked: it crossed the network. */
function parseResult(v: unknown): StageJobResult | undefined {
  const r = v as Partial<Extract<StageJobResult, { ok: true }>> | null;
  if (!r || r.ok !== true) return undefined;
  if (!isTreeHash(r.key ?? '') || !isTreeHash(r.treeHash ?? '') || !isTreeHash(r.contentHash ?? '')) return undefined;
  return {
    ok: true,
    key: r.key!,
    treeHash: r.treeHash!,
    contentHash: r.contentHash!,
    metrics: typeof r.metrics === 'object' && r.metrics !== null ? r.metrics : {},
    worker: typeof r.worker === 'string' ? r.worker : '',
    seconds: typeof r.seconds === 'number' ? r.seconds : 0,
    from: r.from === 'remote' ? 'remote' : 'ran',
    logTail: Array.isArray(r.logTail) ? r.logTail.filter((l): l is string => typeof l === 'string') : [],
  };
}
