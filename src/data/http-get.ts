/**
 * One bounded HTTP(S) download attempt: a deadline for the whole attempt (redirect hops included),
 * a byte cap checked against Content-Length and while streaming, a bounded number of redirects,
 * and keep-alive agents shared by all requests. Every outcome is a value: the body, or a reason
 * plus whether trying again could help (timeouts, resets, cut-off bodies, 5xx, 408, 429).
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpAgents {
  http: http.Agent;
  https: https.Agent;
}

/** Keep-alive agents allowing `maxSockets` connections per host. */
export function createAgents(maxSockets: number): HttpAgents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets }),
    https: new https.Agent({ keepAlive: true, maxSockets }),
  };
}

export function destroyAgents(agents: HttpAgents): void {
  agents.http.destroy();
  agents.https.destroy();
}

export interface HttpGetOptions {
  timeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  agents: HttpAgents;
  signal?: AbortSignal;
}

export type AttemptResult = { ok: true; body: Buffer } | { ok: false; reason: string; transient: boolean };

const fail = (reason: string, transient: boolean): AttemptResult => ({ ok: false, reason, transient });

/** Errors that another try will not fix. */
const PERMANENT_CODES = new Set([
  'ENOTFOUND',
  'ERR_INVALID_URL',
  'ERR_UNESCAPED_CHARACTERS',
  'ERR_INVALID_PROTOCOL',
  'EPROTO',
]);

/** A reason for a socket-level error, and whether to retry it. */
function classifyError(e: NodeJS.ErrnoException, timedOut: boolean): AttemptResult {
  if (timedOut) return fail('timeout', true);
  const code = e.code ?? '';
  if (code === 'ECONNRESET' || code === 'EPIPE') return fail('connection reset', true);
  if (code === 'ECONNREFUSED') return fail('connection refused', true);
  if (code === 'ETIMEDOUT') return fail('timeout', true);
  if (code === 'EAI_AGAIN') return fail('dns: temporary failure', true);
  if (
    PERMANENT_CODES.has(code) ||
    code.startsWith('CERT_') ||
    code.startsWith('ERR_TLS') ||
    /certificate/i.test(e.message)
  ) {
    return fail(code === 'ENOTFOUND' ? 'dns: host not found' : `tls/url: ${code || e.message}`, false);
  }
  return fail(code ? `network: ${code}` : `network: ${e.message}`, true);
}

function statusFailure(status: number): AttemptResult {
  const transient = status >= 500 || status === 408 || status === 429;
  return fail(`http ${status}`, transient);
}

interface Hop {
  result?: AttemptResult;
  redirect?: string;
}

function requestOnce(url: URL, opts: HttpGetOptions, deadline: number): Promise<Hop> {
  return new Promise((resolveHop) => {
    let settled = false;
    let timedOut = false;
    const done = (hop: Hop): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolveHop(hop);
    };
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.get(url, {
      agent: url.protocol === 'https:' ? opts.agents.https : opts.agents.http,
      headers: { 'user-agent': 'tailor-fetch/1', accept: 'image/*,*/*;q=0.5' },
    });
    const timer = setTimeout(
      () => {
        timedOut = true;
        req.destroy(new Error('timeout'));
      },
      Math.max(1, deadline - Date.now()),
    );
    const onAbort = (): void => {
      req.destroy(new Error('aborted'));
      done({ result: fail('aborted', true) });
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => done({ result: classifyError(e, timedOut) }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304 && res.headers.location) {
        res.resume(); // drain so the keep-alive socket can be reused
        let next: string;
        try {
          next = new URL(res.headers.location, url).href;
        } catch {
          done({ result: fail('bad redirect', false) });
          return;
        }
        res.on('end', () => done({ redirect: next }));
        res.on('error', () => done({ redirect: next }));
        return;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        done({ result: statusFailure(status) });
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes) {
        req.destroy();
        done({ result: fail('too large', false) });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) {
          req.destroy();
          done({ result: fail('too large', false) });
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (!res.complete) done({ result: fail('truncated body', true) });
        else done({ result: { ok: true, body: Buffer.concat(chunks, size) } });
      });
      res.on('error', (e: NodeJS.ErrnoException) => {
        done({
          result: timedOut
            ? fail('timeout', true)
            : e.code === 'ECONNRESET' || /aborted/.test(e.message)
              ? fail('truncated body', true)
              : classifyError(e, false),
        });
      });
      res.on('close', () => {
        if (!res.complete) done({ result: timedOut ? fail('timeout', true) : fail('truncated body', true) });
      });
    });
  });
}

/** GET `url`, following up to `maxRedirects` redirects, within `timeoutMs` in all. */
export async function httpGet(url: string, opts: HttpGetOptions): Promise<AttemptResult> {
  const deadline = Date.now() + opts.timeoutMs;
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    return fail('bad url', false);
  }
  for (let hops = 0; ; hops++) {
    // An abort listener added to an already aborted signal never fires: check first.
    if (opts.signal?.aborted) return fail('aborted', true);
    if (current.protocol !== 'http:' && current.protocol !== 'https:') return fail('redirect to a non-http url', false);
    const hop = await requestOnce(current, opts, deadline);
    if (hop.result) return hop.result;
    if (hops >= opts.maxRedirects) return fail('too many redirects', false);
    current = new URL(hop.redirect as string);
  }
}
