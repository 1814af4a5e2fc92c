/**
 * Workers announce themselves in Redis (capacity + heartbeat), so a run can tell "no worker
 * can ever take this stage" (fail at once, naming what the fleet has) from "all workers are
 * busy" (wait). Heartbeats use Redis's own clock, so machines with skewed clocks agree.
 */
import type { Redis } from 'ioredis';
import { BEAT_KEY, WORKERS_KEY } from './redis-names.js';

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  gpus: number;
  concurrency: number;
  startedAt: number;
}

/** A worker whose last heartbeat is older than this is gone. */
export const BEAT_TIMEOUT_MS = 10_000;
export const BEAT_EVERY_MS = 2_000;

async function serverMs(redis: Redis): Promise<number> {
  const [sec, usec] = await redis.time();
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
}

export async function heartbeat(redis: Redis, info: WorkerInfo): Promise<void> {
  const now = await serverMs(redis);
  await redis.multi().hset(WORKERS_KEY, info.id, JSON.stringify(info)).zadd(BEAT_KEY, now, info.id).exec();
}

export async function unregister(redis: Redis, id: string): Promise<void> {
  await redis.multi().hdel(WORKERS_KEY, id).zrem(BEAT_KEY, id).exec();
}

/** Workers with a recent heartbeat; entries of long-gone workers are dropped on the way. */
export async function liveWorkers(redis: Redis): Promise<WorkerInfo[]> {
  const now = await serverMs(redis);
  const stale = await redis.zrangebyscore(BEAT_KEY, '-inf', now - 3_600_000);
  if (stale.length > 0)
    await redis
      .multi()
      .zrem(BEAT_KEY, ...stale)
      .hdel(WORKERS_KEY, ...stale)
      .exec();
  const ids = await redis.zrangebyscore(BEAT_KEY, now - BEAT_TIMEOUT_MS, '+inf');
  if (ids.length === 0) return [];
  const raw = await redis.hmget(WORKERS_KEY, ...ids);
  return raw.flatMap((r) => {
    if (!r) return [];
    try {
      return [JSON.parse(r) as WorkerInfo];
    } catch {
      return [];
    }
  });
}

/** Why no live worker can take a stage needing `gpus`, or undefined when one can (or none is known yet). */
export function capacityProblem(stage: string, gpus: number, live: WorkerInfo[]): string | undefined {
  if (live.length === 0 || gpus === 0) return undefined;
  const most = Math.max(...live.map((w) => w.gpus));
  if (most >= gpus) return undefined;
  const fleet = live.map((w) => `${w.id} ${w.gpus}`).join(', ');
  return `stage ${stage} asks for ${gpus} GPU(s), and no worker has that many (live workers and their GPUs: ${fleet}); start a worker with --gpus ${gpus}, or lower resources.gpu`;
}
