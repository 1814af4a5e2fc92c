/**
 * A real S3-compatible server for tests and benchmarks: s3rver in a child process on 127.0.0.1,
 * over a temp folder, with the environment a tailor process needs to reach it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from './rig.js';

export interface S3Server {
  endpoint: string;
  port: number;
  /** The folder s3rver keeps objects in (tests corrupt and delete files there). */
  dir: string;
  /** AWS_* variables pointing an SDK client at this server. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** s3rver's fixed development credentials. */
const KEYS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export async function startS3Server(buckets: string[] = ['tailor']): Promise<S3Server> {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-s3rver-'));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--openssl-legacy-provider', join(REPO, 'test', 'helpers', 's3rver-main.mjs'), dir, ...buckets],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code} before listening`)));
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve((JSON.parse(line) as { port: number }).port),
    );
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    dir,
    env: { ...KEYS, AWS_ENDPOINT_URL: endpoint },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
