/**
 * fetch's second pass: an answer for every source listed (an image stored by content hash, or a
 * failure reason), committed to the index as soon as it is known. What an earlier run learned is
 * reused when it was judged by this code; a stored image judged by other code is checked again
 * from its bytes (a download does not depend on the code, its verdict does); a failure judged by
 * other code is fetched again.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pMapIterable } from 'p-map';
import type { ItemStore } from '../stage-kit/item-store.js';
import type { ItemCounter } from '../stage-kit/progress.js';
import type { FetchIndex, IndexEntry } from './fetch-index.js';
import { fetchSource, sourceKey, type FetchOptions } from './fetch-source.js';
import { checkImage } from './image-check.js';
import { readImages } from './imaterialist-read.js';
import { parseImageUrl, type UrlSource } from './url-source.js';

export type RefetchRule = 'none' | 'transient' | 'all';

export interface AnswerPass {
  files: ReadonlyArray<{ path: string }>;
  index: FetchIndex;
  store: ItemStore;
  fetch: FetchOptions;
  codeKey: string;
  /** This run's id (failures recorded in this run are not fetched twice). */
  run: number;
  refetch: RefetchRule;
  concurrency: number;
  counter: ItemCounter;
  signal: AbortSignal;
  /** Under `shards: N`, whether an image is this shard's (the others are left to their shards). */
  mine?: (imageId: string) => boolean;
}

export interface AnswerCounts {
  fetched: number;
  /** Answers of earlier runs used as they were. */
  reused: number;
  /** Stored images judged again by this code. */
  rechecked: number;
  attempts: number;
}

type Decision = 'reuse' | 'recheck' | 'fetch';

/** What to do about a source, given what an earlier run learned. */
export function decide(
  prev: IndexEntry | undefined,
  pass: Pick<AnswerPass, 'store' | 'codeKey' | 'run' | 'refetch'>,
): Decision {
  if (!prev) return 'fetch';
  if (prev.ok) {
    if (!pass.store.has(prev.hash, prev.ext)) return 'fetch';
    return prev.code === pass.codeKey ? 'reuse' : 'recheck';
  }
  if (prev.code !== pass.codeKey) return 'fetch';
  if (prev.run === pass.run || pass.refetch === 'none') return 'reuse';
  return pass.refetch === 'transient' && !prev.transient ? 'reuse' : 'fetch';
}

interface Job {
  key: string;
  src: UrlSource;
  prev: IndexEntry | undefined;
  decision: Decision;
}

export async function answerSources(pass: AnswerPass): Promise<AnswerCounts> {
  const counts: AnswerCounts = { fetched: 0, reused: 0, rechecked: 0, attempts: 0 };
  const inFlight = new Set<string>();
  const { index, store, counter, signal } = pass;

  async function* jobs(): AsyncGenerator<Job> {
    for (const f of pass.files) {
      const jsonDir = dirname(f.path);
      for await (const rec of readImages(f.path)) {
        if (signal.aborted) return;
        if (pass.mine && !pass.mine(rec.imageId)) continue;
        const src = parseImageUrl(rec.url, jsonDir);
        const key = await sourceKey(src, rec.url);
        if (inFlight.has(key)) {
          counter.add(1);
          continue;
        }
        const prev = index.get(key);
        const decision = decide(prev, pass);
        if (decision === 'reuse' && prev) {
          counts.reused++;
          counter.add(1, prev.ok ? 0 : 1);
          continue;
        }
        inFlight.add(key);
        yield { key, src, prev, decision };
      }
    }
  }

  const answer = async (job: Job): Promise<void> => {
    if (signal.aborted) return; // waited for a slot while the run was stopped
    const base = { run: pass.run, code: pass.codeKey };
    let ok: boolean;
    if (job.decision === 'recheck' && job.prev?.ok) {
      const bytes = await readFile(store.pathOf(job.prev.hash, job.prev.ext));
      const check = await checkImage(bytes, pass.fetch.limits);
      if (check.ok) index.put(job.key, { ...base, ok: true, hash: await store.put(bytes, check.ext), ext: check.ext });
      else index.put(job.key, { ...base, ok: false, error: check.reason, transient: false });
      ok = check.ok;
      counts.rechecked++;
    } else {
      const out = await fetchSource(job.src, pass.fetch);
      counts.attempts += out.attempts;
      // A failure caused by the abort is no answer about the source: record nothing.
      if (out.ok) index.put(job.key, { ...base, ok: true, hash: await store.put(out.bytes, out.ext), ext: out.ext });
      else if (!signal.aborted) index.put(job.key, { ...base, ok: false, error: out.reason, transient: out.transient });
      ok = out.ok;
      counts.fetched++;
    }
    inFlight.delete(job.key);
    counter.add(1, ok ? 0 : 1);
  };

  for await (const _ of pMapIterable(jobs(), answer, { concurrency: pass.concurrency, preserveOrder: false })) {
    // answered
  }
  return counts;
}
