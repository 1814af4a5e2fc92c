/**
 * Remotes for the remote-cache tests: a bucket prefix on a real s3rver, or a shared folder, with
 * the URL and environment a `tailor` child needs and a RemoteStore for the test to inspect,
 * corrupt and delete objects directly.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRemote } from '../../src/remote/open-remote.js';
import type { RemoteStore } from '../../src/remote/remote-store.js';
import { startS3Server } from './s3-server.js';
import type { Workspace } from './rig.js';

export type RemoteKind = 's3' | 'file';
export const REMOTE_KINDS: RemoteKind[] = ['s3', 'file'];

export interface TestRemote {
  url: string;
  env: Record<string, string>;
  store: RemoteStore;
  /** The S3 endpoint behind the URL (to put a fault proxy in front of it); undefined for file://. */
  endpoint?: string;
  stop(): Promise<void>;
}

export async function startRemote(kind: RemoteKind): Promise<TestRemote> {
  if (kind === 's3') {
    const s3 = await startS3Server(['tailor']);
    const url = 's3://tailor/team';
    const env = { ...s3.env, TAILOR_REMOTE: url };
    const store = await open(url, env);
    return {
      url,
      env,
      store,
      endpoint: s3.endpoint,
      async stop() {
        store.close();
        await s3.stop();
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'tailor-shared-'));
  const url = `file://${dir}`;
  const env = { TAILOR_REMOTE: url };
  return { url, env, store: await open(url, env), stop: () => rm(dir, { recursive: true, force: true }) };
}

async function open(url: string, env: Record<string, string>): Promise<RemoteStore> {
  const r = await openRemote(url, { ...process.env, ...env });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** Keys under a prefix of the remote, sorted. */
export async function remoteKeys(store: RemoteStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(prefix)) keys.push(o.key);
  return keys.sort();
}

/** `tailor push|pull ... --json`, parsed. */
export async function transfer(
  ws: Workspace,
  verb: 'push' | 'pull',
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; states: Record<string, string>; body: TransferJson; stderr: string }> {
  const r = await ws.tailor([verb, ...args, '--json'], env);
  let body: TransferJson = { stages: [], retries: 0, seconds: 0 };
  try {
    body = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as TransferJson;
  } catch {
    // leave empty: the assertions show stdout/stderr
  }
  const states = Object.fromEntries((body.stages ?? []).map((s) => [s.name, s.state]));
  return { code: r.code, states, body, stderr: r.stderr + r.stdout };
}

export interface TransferJson {
  stages: Array<{ name: string; state: string; key?: string; objects: number; bytes: number; reason?: string }>;
  retries: number;
  seconds: number;
}
