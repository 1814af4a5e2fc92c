/**
 * Entry point of a stage's child process. The engine forks this file per stage so that a crash,
 * an out-of-memory kill or a hung backend takes down only the child.
 *
 * It runs in its own process group (the engine kills the group on abort) and exits when the IPC
 * channel closes, so a SIGKILLed engine never leaves a stage running unsupervised.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ChildJob, ChildMessage, ParentMessage } from './child-protocol.js';
import { checkParams, loadStageModule } from './stage-module.js';
import { runStageDefinition } from './stage-context.js';

const controller = new AbortController();
let shell: ChildProcess | undefined;

function send(msg: ChildMessage): Promise<void> {
  return new Promise((done) => {
    if (!process.connected) return done();
    process.send!(msg, undefined, {}, () => done());
  });
}

function killShell(): void {
  if (shell?.pid !== undefined && shell.exitCode === null) {
    try {
      process.kill(-shell.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** Progress is throttled: a stage may report per item, the terminal needs a few updates a second. */
function progressSink(): (done: number, total: number, label?: string) => void {
  let last = 0;
  return (done, total, label) => {
    const now = Date.now();
    if (done < total && now - last < 200) return;
    last = now;
    void send({ type: 'progress', done, total, label });
  };
}

async function runModule(job: Extract<ChildJob, { kind: 'module' }>): Promise<void> {
  const def = await loadStageModule(job.module);
  const check = checkParams(def.params, job.invocation.params);
  if (!check.ok) {
    const detail = check.errors.map((e) => `${e.instancePath || '(params)'} ${e.message ?? ''}`).join('; ');
    throw new Error(`invalid params: ${detail}`);
  }
  await runStageDefinition(
    def,
    { ...job.invocation, params: check.value },
    { log: (m) => process.stdout.write(m.endsWith('\n') ? m : m + '\n'), progress: progressSink() },
    controller.signal,
  );
}

function runCmd(job: Extract<ChildJob, { kind: 'cmd' }>): Promise<void> {
  return new Promise((resolveRun, reject) => {
    shell = spawn('/bin/sh', ['-c', job.cmd], {
      cwd: job.invocation.workdir,
      env: { ...process.env, ...job.env },
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    shell.on('error', reject);
    shell.on('exit', (code, signal) => {
      if (code === 0) resolveRun();
      else reject(new Error(signal ? `command killed by ${signal}` : `command exited with code ${code}`));
    });
  });
}

async function start(job: ChildJob): Promise<void> {
  try {
    await (job.kind === 'module' ? runModule(job) : runCmd(job));
    await send({ type: 'done' });
    process.exit(0);
  } catch (err) {
    const message = controller.signal.aborted
      ? 'aborted'
      : err instanceof Error
        ? (err.stack ?? err.message)
        : String(err);
    process.stderr.write(`${message}\n`);
    await send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
}

process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'start') void start(msg.job);
  else if (msg.type === 'abort') {
    controller.abort();
    killShell();
  }
});
process.on('disconnect', () => {
  controller.abort();
  killShell();
  process.exit(1);
});
