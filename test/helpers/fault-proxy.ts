/**
 * An HTTP proxy on 127.0.0.1 in front of a real server (s3rver) that injects faults into chosen
 * requests: a 500 answer, a dropped connection, a response body cut in half, or one flipped byte
 * in a response body. The client talks to the proxy exactly as to the server (SigV4 signs the Host
 * header the client sent, which the proxy passes on unchanged).
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'pass' | 'error500' | 'drop' | 'truncate' | 'corrupt';

export interface FaultProxy {
  endpoint: string;
  /** How many requests got each treatment. */
  counts: Record<Fault, number>;
  /** Replace the rule that picks each request's fault. */
  setRule(rule: FaultRule): void;
  stop(): Promise<void>;
}

/** Picks a request's fault from its method, path and sequence number (1-based). */
export type FaultRule = (req: { method: string; url: string; n: number }) => Fault;

export async function startFaultProxy(target: string, rule: FaultRule): Promise<FaultProxy> {
  const upstream = new URL(target);
  const counts: Record<Fault, number> = { pass: 0, error500: 0, drop: 0, truncate: 0, corrupt: 0 };
  let n = 0;
  let current = rule;
  const server = createServer((req, res) => {
    n++;
    const fault = current({ method: req.method ?? 'GET', url: req.url ?? '/', n });
    counts[fault]++;
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault === 'error500') {
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end(
          '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected fault</Message></Error>',
        );
      });
      return;
    }
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => relay(up, res, fault),
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    setRule(r) {
      current = r;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function relay(up: IncomingMessage, res: ServerResponse, fault: Fault): void {
  const length = Number(up.headers['content-length'] ?? 0);
  if (fault === 'pass' || length < 2) {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
    return;
  }
  const chunks: Buffer[] = [];
  up.on('data', (c: Buffer) => chunks.push(c));
  up.on('end', () => {
    const body = Buffer.concat(chunks);
    res.writeHead(up.statusCode ?? 502, up.headers);
    if (fault === 'truncate') {
      // Headers promise the whole body; half of it arrives, then the connection dies.
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    const i = Math.floor(body.length / 2);
    body[i] = body[i]! ^ 0xff;
    res.end(body);
  });
}
