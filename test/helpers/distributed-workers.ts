/** Real `tailor worker` processes for the distributed tests: start, wait until registered, signal, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { TAILOR } from './rig.js';

export interface WorkerProc {
  id: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number>;
  stop(): Promise<void>;
}

export interface WorkerSpec {
  redisUrl: string;
  remoteUrl: string;
  cacheDir: string;
  cwd: string;
  gpus?: number;
  concurrency?: number;
  /** Short locks so a killed worker's job is taken up again within seconds. */
  lockMs?: number;
  /** Where this worker finds the pipeline's working folder (--workdir). */
  workdir?: string;
}

export async function startWorker(spec: WorkerSpec): Promise<WorkerProc> {
  const args = [TAILOR, 'worker', '--executor', spec.redisUrl, '--remote', spec.remoteUrl, '--cache', spec.cacheDir];
  if (spec.gpus !== undefined) args.push('--gpus', String(spec.gpus));
  if (spec.concurrency !== undefined) args.push('--concurrency', String(spec.concurrency));
  if (spec.workdir !== undefined) args.push('--workdir', spec.workdir);
  const child = spawn(process.execPath, args, {
    cwd: spec.cwd,
    env: { ...process.env, CI: 'true', TAILOR_WORKER_LOCK_MS: String(spec.lockMs ?? 2000), TAILOR_GPUS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit').then(([code]) => (code as number | null) ?? -1);
  const id = `${hostname()}:${child.pid}`;
  const until = Date.now() + 20_000;
  while (!out.includes(`worker ${id}:`)) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > until) throw new Error(`worker did not start:\n${out}`);
    await sleep(50);
  }
  return {
    id,
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
