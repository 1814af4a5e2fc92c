/** Running one stage in a child process (stage-child), streaming its logs and progress. */
import { fork } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TAILOR_ROOT } from '../paths.js';
import type { ChildJob, ChildMessage, ParentMessage } from './child-protocol.js';
import { isTensorFlowNoise } from '../ml/tf-log.js';

export interface StageProcessOptions {
  job: ChildJob;
  logPath: string;
  env: Record<string, string>;
  signal: AbortSignal;
  /** Seconds between the polite abort and SIGKILL of the process group. */
  graceSeconds?: number;
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
  onProgress(done: number, total: number, label?: string): void;
}

export type StageProcessResult = { ok: true } | { ok: false; message: string };

const fromSources = fileURLToPath(import.meta.url).endsWith('.ts');
// Compiled, the child is dist/src/run/stage-child.js; from sources (tests, tsx) it is the .ts
// file, under the tsx loader. Found from tailor's root, so it does not matter where this code runs.
const childScript = fromSources
  ? join(TAILOR_ROOT, 'src', 'run', 'stage-child.ts')
  : join(TAILOR_ROOT, 'dist', 'src', 'run', 'stage-child.js');
const childExecArgv = fromSources ? ['--import', 'tsx'] : [];

export function runStageProcess(opts: StageProcessOptions): Promise<StageProcessResult> {
  return new Promise((resolveRun) => {
    const log = createWriteStream(opts.logPath, { flags: 'a' });
    const child = fork(childScript, [], {
      execArgv: [...childExecArgv, '--enable-source-maps'],
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true, // own process group: Ctrl-C reaches the engine, which stops children in order
    });
    let failure: string | undefined;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;

    for (const stream of ['stdout', 'stderr'] as const) {
      const lines = createInterface({ input: child[stream]!, crlfDelay: Infinity });
      lines.on('line', (line) => {
        if (stream === 'stderr' && isTensorFlowNoise(line)) return; // libtensorflow's load-time info lines
        log.write(line + '\n');
        opts.onLine(line, stream);
      });
    }
    child.on('message', (msg: ChildMessage) => {
      if (msg.type === 'progress') opts.onProgress(msg.done, msg.total, msg.label);
      else if (msg.type === 'error') failure = msg.message;
    });

    const abort = (): void => {
      if (child.exitCode !== null) return;
      send({ type: 'abort' });
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), (opts.graceSeconds ?? 10) * 1000);
      killTimer.unref();
    };
    const send = (msg: ParentMessage): void => {
      if (child.connected) child.send(msg);
    };
    if (opts.signal.aborted) abort();
    else opts.signal.addEventListener('abort', abort, { once: true });

    child.on('spawn', () => send({ type: 'start', job: opts.job }));
    child.on('error', (err) => finish({ ok: false, message: `could not start the stage process: ${err.message}` }));
    child.on('close', (code, sig) => {
      // The stage may have left grandchildren (a cmd's pipeline): clean the whole group.
      killGroup(child.pid, 'SIGKILL');
      if (code === 0) finish({ ok: true });
      else if (opts.signal.aborted) finish({ ok: false, message: 'interrupted' });
      else if (sig)
        finish({ ok: false, message: `stage process killed by ${sig}${sig === 'SIGKILL' ? ' (out of memory?)' : ''}` });
      else finish({ ok: false, message: failure ?? `stage process exited with code ${code}` });
    });

    function finish(result: StageProcessResult): void {
      if (settled) return;
      settled = true;
      if (killTimer) clearTimeout(killTimer);
      opts.signal.removeEventListener('abort', abort);
      log.end(() => resolveRun(result));
    }
  });
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // group already gone
  }
}
