/**
 * Where tailor keeps things in Redis, in one place: the BullMQ queues (one per GPU count, which
 * is how GPU stages reach only workers with enough free GPU tokens: BullMQ itself matches no
 * resources), the worker registry, and the two pub/sub channels.
 *
 *   tailor:stages-gpu<N>:*    BullMQ queue of stages needing exactly N GPUs (N = 0: CPU stages)
 *   tailor:workers            hash   worker id -> capacity JSON
 *   tailor:workers:beat       zset   worker id -> last heartbeat (Redis server time, ms)
 *   tailor:cancelled:<jobId>  string set when a run cancels a job (workers poll it too)
 *   tailor:wake               channel: new jobs were added (idle workers look at once)
 *   tailor:cancel             channel: a job id to stop
 */
import { OptionError } from './option-error.js';

export const PREFIX = 'tailor';
export const WORKERS_KEY = `${PREFIX}:workers`;
export const BEAT_KEY = `${PREFIX}:workers:beat`;
export const WAKE_CHANNEL = `${PREFIX}:wake`;
export const CANCEL_CHANNEL = `${PREFIX}:cancel`;

/** Largest GPU count a stage may ask for (one queue per count up to it). */
export const MAX_GPUS = 16;

export function queueName(gpus: number): string {
  return `stages-gpu${gpus}`;
}

export function cancelKey(jobId: string): string {
  return `${PREFIX}:cancelled:${jobId}`;
}

/** Options for BullMQ objects and ioredis clients (BullMQ needs requests to wait through reconnects). */
export function connectionOptions(url: string): { url: string; maxRetriesPerRequest: null } {
  return { url, maxRetriesPerRequest: null };
}

/** `redis://HOST:PORT[/DB]` (also `rediss://`, with user/password), checked before anything connects. */
export function checkRedisUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OptionError(`--executor ${url}: not a URL (expected redis://HOST:PORT or slurm)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new OptionError(`--executor ${url}: expected redis://HOST:PORT or slurm`);
  }
  if (!u.hostname) throw new OptionError(`--executor ${url}: no host`);
  return url;
}
