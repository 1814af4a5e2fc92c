/**
 * Getting one image source (http(s) URL or local file) as validated bytes: http with retries on
 * transient failures (exponential backoff with jitter), files read once with the same byte cap,
 * then a full decode check. The index key of a source is its URL, or for a file its path, size
 * and mtime, so an edited file is fetched again.
 */
import { readFile, stat } from 'node:fs/promises';
import { backoffDelay, sleep } from './backoff.js';
import { httpGet, type HttpAgents } from './http-get.js';
import { checkImage, type ImageLimits } from './image-check.js';
import type { UrlSource } from './url-source.js';

export interface FetchOptions {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
  limits: ImageLimits;
  agents: HttpAgents;
  rand: () => number;
  signal?: AbortSignal;
}

export type FetchOutcome =
  | { ok: true; bytes: Buffer; ext: string; attempts: number }
  | { ok: false; reason: string; transient: boolean; attempts: number };

/** The index key of a source (async: a file key includes its size and mtime). */
export async function sourceKey(src: UrlSource, url: string): Promise<string> {
  if (src.kind === 'http') return src.url;
  if (src.kind === 'bad') return `bad:${url}`;
  try {
    const st = await stat(src.path);
    return `file:${src.path}#${st.size}:${Math.round(st.mtimeMs)}`;
  } catch {
    return `file:${src.path}#missing`;
  }
}

async function readLocal(
  path: string,
  maxBytes: number,
): Promise<{ ok: true; body: Buffer } | { ok: false; reason: string; transient: boolean }> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return { ok: false, reason: 'not a file', transient: false };
    if (st.size > maxBytes) return { ok: false, reason: 'too large', transient: false };
    return { ok: true, body: await readFile(path) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: 'not found', transient: false };
    return {
      ok: false,
      reason: `file: ${code ?? (e as Error).message}`,
      transient: code === 'EMFILE' || code === 'EIO',
    };
  }
}

/** Fetch and validate one source. */
export async function fetchSource(src: UrlSource, opts: FetchOptions): Promise<FetchOutcome> {
  if (src.kind === 'bad') return { ok: false, reason: src.reason, transient: false, attempts: 0 };
  let attempts = 0;
  for (;;) {
    attempts++;
    const got =
      src.kind === 'file'
        ? await readLocal(src.path, opts.maxBytes)
        : await httpGet(src.url, {
            timeoutMs: opts.timeoutMs,
            maxBytes: opts.maxBytes,
            maxRedirects: opts.maxRedirects,
            agents: opts.agents,
            signal: opts.signal,
          });
    if (got.ok) {
      const check = await checkImage(got.body, opts.limits);
      if (!check.ok) return { ok: false, reason: check.reason, transient: false, attempts };
      return { ok: true, bytes: got.body, ext: check.ext, attempts };
    }
    const retry = got.transient && src.kind === 'http' && attempts <= opts.retries && !opts.signal?.aborted;
    if (!retry) return { ok: false, reason: got.reason, transient: got.transient, attempts };
    await sleep(backoffDelay(attempts - 1, opts.backoffMs, opts.maxBackoffMs, opts.rand), opts.signal);
  }
}
