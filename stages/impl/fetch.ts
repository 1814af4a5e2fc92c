/**
 * fetch's run (the definition and params: ../fetch.ts): count, answer every source, write the outputs.
 * Under `shards: N` (the `shard` param) every pass keeps only the shard's images (src/stage-kit/shard.ts).
 */
import { existsSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { StageContext } from '../../src/stage-api.js';
import type { ImageSet } from '../../src/formats/manifest.js';
import { hashSeed, mulberry32 } from '../../src/random.js';
import { inputBase, resolveInput } from '../../src/stage-kit/inputs.js';
import { ItemStore } from '../../src/stage-kit/item-store.js';
import { ItemCounter } from '../../src/stage-kit/progress.js';
import { ShardPart } from '../../src/stage-kit/shard.js';
import { AnnotationSpill } from '../../src/data/annotation-spill.js';
import { answerSources } from '../../src/data/fetch-answers.js';
import { FetchIndex } from '../../src/data/fetch-index.js';
import { writeFetchOutputs } from '../../src/data/fetch-outputs.js';
import { createAgents, destroyAgents } from '../../src/data/http-get.js';
import { readImaterialist } from '../../src/data/imaterialist-read.js';
import type { FetchParams } from '../fetch.js';

const SETS: ImageSet[] = ['train', 'validation', 'test'];

export default async function fetch(ctx: StageContext<FetchParams>): Promise<void> {
  const p = ctx.params;
  const base = inputBase(ctx, p.from);
  const files = SETS.flatMap((set) => {
    const rel = p[set];
    return rel === undefined ? [] : [{ set, path: resolveInput(base, rel) }];
  });
  if (files.length === 0) throw new Error('give at least one of the params train, validation, test');
  for (const f of files) if (!existsSync(f.path)) throw new Error(`${f.set}: file not found: ${f.path}`);

  const started = Date.now();
  const part = await ShardPart.open(ctx.out, p.shard);
  // Images are stored by the hash of their bytes: they stay valid whatever the code (see fetch-answers.ts).
  const store = await ItemStore.open(ctx.state);
  const index = new FetchIndex(ctx.state);
  const spill = new AnnotationSpill(ctx.state);
  const agents = createAgents(p.concurrency);
  // Every request in flight listens for the abort: one inner signal with no listener cap
  // (ctx.signal itself gets a single listener).
  const inner = new AbortController();
  setMaxListeners(0, inner.signal);
  const forward = (): void => inner.abort();
  ctx.signal.addEventListener('abort', forward, { once: true });
  if (ctx.signal.aborted) forward();
  try {
    // Pass 1: count images, spill labels (annotations may come before or after images).
    const perSet: Partial<Record<ImageSet, number>> = {};
    for (const f of files) {
      let n = 0;
      for await (const rec of readImaterialist(f.path, { images: true, annotations: f.set !== 'test' })) {
        if (ctx.signal.aborted) throw new Error('fetch aborted');
        if (!part.mine(rec.imageId)) continue;
        if (rec.kind === 'image') n++;
        else spill.add(f.set, rec.imageId, rec.labels);
      }
      perSet[f.set] = n;
    }
    spill.seal();
    const total = Object.values(perSet).reduce((a, b) => a + b, 0);
    ctx.log(
      `${part.sharded ? `${part.label()}: ` : ''}${total} images listed (${files.map((f) => `${f.set} ${perSet[f.set]}`).join(', ')})`,
    );

    // Pass 2: an answer for every source.
    const counter = new ItemCounter(ctx, total, 'images');
    const answers = await answerSources({
      files,
      index,
      store,
      fetch: {
        timeoutMs: p.timeout_ms,
        maxBytes: p.max_bytes,
        maxRedirects: p.max_redirects,
        retries: p.retries,
        backoffMs: p.backoff_ms,
        maxBackoffMs: p.max_backoff_ms,
        limits: { maxPixels: p.max_pixels, minSide: p.min_side },
        agents,
        rand: mulberry32(hashSeed(ctx.seed, 'fetch', 'jitter')),
        signal: inner.signal,
      },
      codeKey: ctx.codeKey,
      run: Date.now(),
      refetch: p.refetch_failed,
      concurrency: p.concurrency,
      counter,
      signal: ctx.signal,
      ...(part.sharded ? { mine: (id: string) => part.mine(id) } : {}),
    });
    if (ctx.signal.aborted) throw new Error('fetch aborted');
    ctx.log(
      `${counter.summary()}; fetched ${answers.fetched} sources in ${answers.attempts} attempts, ${answers.rechecked} stored images checked again by changed code, ${answers.reused} answers from the state index`,
    );

    // Pass 3: the manifest, the failure report and the links to stored images.
    const { ok, failed, reasons } = await writeFetchOutputs(ctx.out, files, { index, store, spill }, ctx.signal, part);
    await part.close();
    const seconds = (Date.now() - started) / 1000;
    const share = total ? failed / total : 0;
    ctx.metrics({
      images: { ...perSet, total },
      ok,
      failed,
      failure_share: share,
      failures_by_reason: reasons,
      fetched: answers.fetched,
      rechecked: answers.rechecked,
      reused: answers.reused,
      attempts: answers.attempts,
      seconds,
    });
    const top = Object.entries(reasons)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([r, n]) => `${r}: ${n}`)
      .join(', ');
    ctx.log(
      `${ok} images usable, ${failed} failed (${(share * 100).toFixed(2)}%)${top ? `: ${top}` : ''}; see failures.csv`,
    );
    if (share > p.max_failure_share) {
      throw new Error(
        `${failed} of ${total} images failed (${(share * 100).toFixed(2)}%), above max_failure_share ${p.max_failure_share}: ${top}`,
      );
    }
  } finally {
    ctx.signal.removeEventListener('abort', forward);
    destroyAgents(agents);
    spill.close();
    index.close();
  }
}
