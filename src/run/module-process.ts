/**
 * Running a module stage: a Node child (stage-child.ts) that loads the stage module and calls
 * its `run(ctx)`, so a crash, an out-of-memory kill or a hung backend takes down only the
 * child. Progress and the failure message come over the IPC channel; output goes to the log.
 * See child-supervisor.ts for how it is stopped.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TAILOR_ROOT } from '../paths.js';
import { isTensorFlowNoise } from '../ml/tf-log.js';
import type { ChildMessage, ModuleJob, ParentMessage } from './child-protocol.js';
import { supervise, type StageProcessRun } from './child-supervisor.js';
import { newStageTag } from './process-reaper.js';
import { TAG_VAR } from './process-tree.js';
import { processResult, withLogError, type ProcessResult } from './process-result.js';

export interface ModuleRun extends StageProcessRun {
  job: ModuleJob;
  onProgress(done: number, total: number, label?: string): void;
}

const fromSources = fileURLToPath(import.meta.url).endsWith('.ts');
// Compiled, the child is dist/src/run/stage-child.js; from sources (tests, tsx) it is the .ts
// file, under the tsx loader. Found from tailor's root, so it does not matter where this code runs.
const childScript = fromSources
  ? join(TAILOR_ROOT, 'src', 'run', 'stage-child.ts')
  : join(TAILOR_ROOT, 'dist', 'src', 'run', 'stage-child.js');
const childExecArgv = fromSources ? ['--import', 'tsx'] : [];

export async function runModuleProcess(run: ModuleRun): Promise<ProcessResult> {
  const tag = newStageTag();
  const child = fork(childScript, [], {
    execArgv: [...childExecArgv, '--enable-source-maps'],
    env: { ...process.env, ...run.env, [TAG_VAR]: tag },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true, // its own process group: the terminal's Ctrl-C reaches tailor, which stops it
  });
  let failure: string | undefined;
  const send = (msg: ParentMessage): void => {
    if (child.connected) child.send(msg, (e) => e && undefined);
  };
  child.on('message', (msg: ChildMessage) => {
    if (msg.type === 'progress') run.onProgress(msg.done, msg.total, msg.label);
    else if (msg.type === 'error') failure = msg.message;
  });
  child.on('spawn', () => send({ type: 'start', job: run.job }));
  const end = await supervise({
    ...run,
    child,
    tag,
    politeStop: () => send({ type: 'abort' }),
    dropLine: (line, stream) => stream === 'stderr' && isTensorFlowNoise(line), // libtensorflow's load-time info lines
  });
  await run.log.close();
  return withLogError(processResult(end, 'stage process', { timeoutSeconds: run.timeoutSeconds, failure }), run.log);
}
