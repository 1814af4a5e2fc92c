/**
 * `tailor worker --executor redis://…`: a long-running worker that takes stage jobs from the
 * BullMQ queues and runs them with runStageJob.
 *
 * GPU matching. A stage needing N GPUs waits in queue `stages-gpu<N>`. The worker holds G GPU
 * tokens and C slots, and fetches jobs by hand (BullMQ's Worker.getNextJob, no processor): with
 * a free slot and F free tokens it looks at the queues N = F..0, so it never takes a job it has
 * no GPUs for; each job gets its own device ids in CUDA_VISIBLE_DEVICES. A bigger GPU job
 * waiting in a queue it cannot serve yet makes it stop taking smaller GPU jobs until enough
 * tokens are free, so 1-GPU jobs cannot starve a 2-GPU one.
 *
 * Fetching by hand means renewing the job's lock ourselves (every lockMs/3); BullMQ's stalled
 * checker (run by every worker) puts a job whose lock lapsed (its worker was SIGKILLed or lost
 * the network) back in the wait list for another worker. A worker that finds its lock gone
 * stops the stage and drops its result: the job belongs to someone else now.
 *
 *   idle --slot & job fetched--> running --ok--> moveToCompleted(result)   (output published first)
 *                                   |---failed--> moveToFailed(message)
 *                                   |---cancel (run's Ctrl-C)--> stage stopped, moveToFailed('cancelled')
 *                                   |---lock lost--> stage stopped, result dropped
 *                                   \---handBack()--> stage stopped, moveToWait (another worker takes it)
 *   drain(): no new jobs; running ones finish; then the worker unregisters and closes.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { Session } from '../run/session.js';
import { GpuPool } from '../run/gpu-pool.js';
import { parseStageJob, type StageJob, type StageJobResult } from './stage-job.js';
import { runStageJob } from './run-job.js';
import { heartbeat, unregister, BEAT_EVERY_MS, type WorkerInfo } from './worker-registry.js';
import { CANCEL_CHANNEL, PREFIX, WAKE_CHANNEL, cancelKey, connectionOptions, queueName } from './redis-names.js';
import { Wakeup } from './wakeup.js';

export interface StageWorkerOptions {
  redisUrl: string;
  /** The remote cache outputs move through (--remote). */
  remoteUrl: string;
  /** The worker's own cache; each job opens it afresh (hashers memoise per invocation, and a worker lives for days). */
  cacheDir: string;
  gpus: number;
  concurrency: number;
  workdir?: string;
  /** Lock of a running job; a dead worker's job is taken up again within about lockMs + stalledMs. */
  lockMs?: number;
  stalledMs?: number;
  /** Idle re-check of the queues (new jobs also wake the worker through pub/sub). */
  idlePollMs?: number;
  log(line: string): void;
}

export interface WorkerSummary {
  done: number;
  failed: number;
  handedBack: number;
}

interface Active {
  job: Job;
  token: string;
  gpuIds: number[];
  controller: AbortController;
  why?: 'cancelled' | 'lost' | 'handback';
}

export class StageWorker {
  readonly id = `${hostname()}:${process.pid}`;
  private readonly redis: Redis;
  private readonly sub: Redis;
  private readonly bull: Worker[] = [];
  private readonly active = new Map<string, Active>();
  private readonly gpuPool: GpuPool;
  private readonly wake = new Wakeup();
  private readonly summary: WorkerSummary = { done: 0, failed: 0, handedBack: 0 };
  private draining = false;
  private readonly stopRequested: Promise<void>;
  private requestStop!: () => void;
  private lastRedisError = { message: '', at: 0 };
  private handingBack = false;
  private beatTimer?: NodeJS.Timeout;
  private readonly lockMs: number;
  private readonly info: WorkerInfo;

  constructor(private readonly opts: StageWorkerOptions) {
    this.redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    this.sub = this.redis.duplicate();
    this.gpuPool = new GpuPool(opts.gpus);
    this.lockMs = opts.lockMs ?? 30_000;
    this.info = {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      gpus: opts.gpus,
      concurrency: opts.concurrency,
      startedAt: Date.now(),
    };
    for (const r of [this.redis, this.sub]) r.on('error', (e: Error) => this.redisError(e)); // it reconnects on its own
    this.stopRequested = new Promise((r) => (this.requestStop = r));
  }

  /** Redis errors repeat on every reconnect attempt: say each one once a minute. */
  private redisError(e: Error): void {
    const now = Date.now();
    if (e.message === this.lastRedisError.message && now - this.lastRedisError.at < 60_000) return;
    this.lastRedisError = { message: e.message, at: now };
    this.opts.log(`worker: Redis at ${this.opts.redisUrl}: ${e.message} (retrying)`);
  }

  /** Run until drained or handed back; resolves with what this worker did. */
  async run(): Promise<WorkerSummary> {
    // Wait for Redis (ioredis retries forever), but let a stop request end the wait.
    const reached = await Promise.race([this.redis.ping().then(() => true), this.stopRequested.then(() => false)]);
    if (!reached) {
      this.sub.disconnect();
      this.redis.disconnect();
      return this.summary;
    }
    for (let n = 0; n <= this.opts.gpus; n++) {
      const w = new Worker(queueName(n), null, {
        connection: connectionOptions(this.opts.redisUrl),
        prefix: PREFIX,
        autorun: false,
        name: this.id,
        lockDuration: this.lockMs,
        stalledInterval: this.opts.stalledMs ?? Math.max(1000, Math.round(this.lockMs / 3)),
        maxStalledCount: 2,
      });
      w.on('error', (e) => this.redisError(e));
      this.bull.push(w);
      await w.startStalledCheckTimer();
    }
    await this.sub.subscribe(WAKE_CHANNEL, CANCEL_CHANNEL);
    this.sub.on('message', (channel: string, message: string) => {
      if (channel === WAKE_CHANNEL) this.wake.fire();
      else if (channel === CANCEL_CHANNEL) this.cancel(message);
    });
    await heartbeat(this.redis, this.info);
    this.beatTimer = setInterval(() => {
      heartbeat(this.redis, this.info).catch(() => undefined);
    }, BEAT_EVERY_MS);
    this.opts.log(
      `worker ${this.id}: ${this.opts.concurrency} slot(s), ${this.opts.gpus} GPU(s), remote ${this.opts.remoteUrl}`,
    );

    while (!this.draining) {
      let took = false;
      while (!this.draining && this.active.size < this.opts.concurrency) {
        const got = await this.takeOne().catch((e: Error) => {
          this.opts.log(`worker: could not fetch a job: ${e.message}`);
          return undefined;
        });
        if (!got) break;
        took = true;
        void this.process(got);
      }
      if (!took || this.active.size >= this.opts.concurrency) await this.wake.wait(this.opts.idlePollMs ?? 1000);
    }
    while (this.active.size > 0) await this.wake.wait(1000);
    await this.shutdown();
    return this.summary;
  }

  /** Take no new jobs; the running ones finish. */
  drain(): void {
    this.draining = true;
    this.requestStop();
    this.wake.fire();
  }

  /** Stop the running stages and put their jobs back for another worker. */
  handBack(): void {
    this.handingBack = true;
    this.draining = true;
    this.requestStop();
    for (const a of this.active.values()) {
      a.why ??= 'handback';
      a.controller.abort();
    }
    this.wake.fire();
  }

  get running(): number {
    return this.active.size;
  }

  private cancel(jobId: string): void {
    const a = this.active.get(jobId);
    if (!a) return;
    this.opts.log(`worker: job ${jobId} cancelled by its run`);
    a.why ??= 'cancelled';
    a.controller.abort();
  }

  /** Fetch one job this worker has the GPUs for, or undefined. */
  private async takeOne(): Promise<{ job: Job; token: string; gpus: number } | undefined> {
    const free = this.gpuPool.total - this.usedGpus();
    let smallestGpuQueue = 1;
    // A waiting job needing more GPUs than are free (but not more than this worker has) reserves them.
    for (let n = this.opts.gpus; n > free; n--) {
      if ((await this.redis.llen(`${PREFIX}:${queueName(n)}:wait`)) > 0) {
        smallestGpuQueue = Number.POSITIVE_INFINITY;
        break;
      }
    }
    for (let n = free; n >= 0; n--) {
      if (n > 0 && n < smallestGpuQueue) continue;
      const token = randomUUID();
      const job = await this.bull[n]!.getNextJob(token, { block: false });
      if (job) return { job, token, gpus: n };
    }
    return undefined;
  }

  private usedGpus(): number {
    let used = 0;
    for (const a of this.active.values()) used += a.gpuIds.length;
    return used;
  }

  private async process(got: { job: Job; token: string; gpus: number }): Promise<void> {
    const { job, token } = got;
    const id = job.id!;
    const gpuIds = this.gpuPool.take(got.gpus);
    const a: Active = { job, token, gpuIds, controller: new AbortController() };
    this.active.set(id, a);
    const logs = new LogBatcher(job);
    const renew = setInterval(() => void this.renew(a), Math.max(250, Math.round(this.lockMs / 3)));
    try {
      const parsed = parseStageJob(job.data);
      if (!parsed.ok) {
        await job.moveToFailed(new Error(`invalid job: ${parsed.error}`), token, false);
        return;
      }
      if (await this.redis.exists(cancelKey(id))) {
        await job.moveToFailed(new Error('cancelled by its run'), token, false);
        return;
      }
      const stage: StageJob = parsed.value;
      this.opts.log(`worker: ${stage.stage} (job ${id})${gpuIds.length ? ` on GPU ${gpuIds.join(',')}` : ''}`);
      const session = await Session.open(this.opts.cacheDir);
      const result = await runStageJob(stage, {
        session,
        remoteUrl: this.opts.remoteUrl,
        worker: this.id,
        gpuIds,
        workdir: this.opts.workdir,
        signal: a.controller.signal,
        onLine: (line) => logs.push(line),
        onProgress: (done, total, label) => void job.updateProgress({ done, total, label }).catch(() => undefined),
      }).finally(() => session.close());
      clearInterval(renew);
      await logs.flush();
      await this.finish(a, result);
    } catch (e) {
      this.opts.log(`worker: job ${id}: ${(e as Error).message}`);
    } finally {
      clearInterval(renew);
      this.gpuPool.give(gpuIds);
      this.active.delete(id);
      this.wake.fire();
    }
  }

  private async finish(a: Active, result: StageJobResult): Promise<void> {
    const id = a.job.id!;
    if (a.why === 'lost') {
      this.opts.log(`worker: lost the lock on job ${id} (another worker has taken it up): result dropped`);
    } else if (result.ok) {
      await a.job.moveToCompleted(result, a.token, false);
      this.summary.done++;
    } else if (a.why === 'handback' || this.handingBack) {
      await a.job.moveToWait(a.token);
      this.summary.handedBack++;
      this.opts.log(`worker: handed job ${id} back to the queue`);
    } else if (a.why === 'cancelled') {
      await a.job.moveToFailed(new Error('cancelled by its run'), a.token, false);
      this.summary.failed++;
    } else {
      await a.job.moveToFailed(new Error(result.message), a.token, false);
      this.summary.failed++;
    }
  }

  /** Keep the job's lock, and notice a cancel whose pub/sub message was missed. */
  private async renew(a: Active): Promise<void> {
    try {
      const kept = await a.job.extendLock(a.token, this.lockMs);
      if (!kept && !a.why) {
        a.why = 'lost';
        a.controller.abort();
      }
      if (!a.why && (await this.redis.exists(cancelKey(a.job.id!)))) this.cancel(a.job.id!);
    } catch {
      // Redis unreachable: the next renewal tries again (the lock lasts lockMs)
    }
  }

  private async shutdown(): Promise<void> {
    if (this.beatTimer) clearInterval(this.beatTimer);
    await unregister(this.redis, this.id).catch(() => undefined);
    await Promise.all(this.bull.map((w) => w.close(true)));
    this.sub.disconnect();
    this.redis.disconnect();
  }
}

/** Stage log lines go to the BullMQ job log in batches, so the run can stream them back. */
class LogBatcher {
  private lines: string[] = [];
  private timer?: NodeJS.Timeout;
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly job: Job) {}

  push(line: string): void {
    this.lines.push(line);
    this.timer ??= setTimeout(() => void this.flush(), 500);
  }

  flush(): Promise<unknown> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length > 0) {
      const row = this.lines.join('\n');
      this.lines = [];
      this.pending = this.pending.then(() => this.job.log(row).catch(() => undefined));
    }
    return this.pending;
  }
}
