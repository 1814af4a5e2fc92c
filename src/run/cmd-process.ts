/**
 * Running a cmd stage: `/bin/sh -c CMD`, spawned straight from the engine (no Node child in
 * between: a trivial command costs a few milliseconds) as the leader of its own process group,
 * its output streamed to the stage log. See child-supervisor.ts for how it is stopped.
 */
import { spawn } from 'node:child_process';
import { supervise, type StageProcessRun } from './child-supervisor.js';
import { newStageTag } from './process-reaper.js';
import { TAG_VAR, signalGroup } from './process-tree.js';
import { processResult, withLogError, type ProcessResult } from './process-result.js';

export interface CmdRun extends StageProcessRun {
  cmd: string;
  cwd: string;
}

export async function runCmdProcess(run: CmdRun): Promise<ProcessResult> {
  const tag = newStageTag();
  const child = spawn('/bin/sh', ['-c', run.cmd], {
    cwd: run.cwd,
    env: { ...process.env, ...run.env, [TAG_VAR]: tag },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: the terminal's Ctrl-C reaches tailor, which stops it
  });
  const end = await supervise({
    ...run,
    child,
    tag,
    politeStop: (c) => {
      if (c.pid !== undefined) signalGroup(c.pid, 'SIGTERM');
    },
  });
  await run.log.close();
  return withLogError(processResult(end, 'command', { timeoutSeconds: run.timeoutSeconds }), run.log);
}
