/**
 * The Slurm commands tailor uses, as typed calls: sbatch (submit), squeue (states of many jobs
 * in one call), scontrol (exit code and reason of a finished job), sacct (the same once
 * slurmctld has forgotten the job, where accounting is on), scancel.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { err, ok, type Result } from '../result.js';

const run = promisify(execFile);

export interface SlurmEnv {
  env?: NodeJS.ProcessEnv;
}

export interface SlurmJobState {
  id: string;
  /** PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, REQUEUED, ... */
  state: string;
  reason: string;
}

export interface SlurmJobDetail extends SlurmJobState {
  /** `code:signal`, e.g. `1:0` (exit 1) or `0:15` (SIGTERM). */
  exitCode: string;
  restarts: number;
  nodes: string;
}

/** States after which a job never runs again (REQUEUED is not one: it goes back to PENDING). */
export const TERMINAL = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'BOOT_FAIL',
  'DEADLINE',
  'SPECIAL_EXIT',
]);

async function call(cmd: string, args: string[], o: SlurmEnv): Promise<Result<string, string>> {
  try {
    const { stdout } = await run(cmd, args, { env: o.env ?? process.env, maxBuffer: 16 << 20 });
    return ok(stdout);
  } catch (e) {
    const x = e as { stderr?: string; message: string; code?: string | number };
    if (x.code === 'ENOENT') return err(`${cmd} is not installed here (is this a Slurm login node?)`);
    return err((x.stderr ?? '').trim() || x.message);
  }
}

/** Submit a batch script; the job id. */
export async function sbatch(args: string[], o: SlurmEnv): Promise<Result<string, string>> {
  const out = await call('sbatch', ['--parsable', ...args], o);
  if (!out.ok) return err(`sbatch: ${out.error}`);
  const id = out.value.trim().split(';')[0] ?? '';
  return /^\d+(?:_\d+)?$/.test(id) ? ok(id) : err(`sbatch printed no job id: ${out.value.trim()}`);
}

/** States of the given jobs, finished ones included while slurmctld remembers them (MinJobAge). */
export async function squeueStates(ids: string[], o: SlurmEnv): Promise<Result<Map<string, SlurmJobState>, string>> {
  const states = new Map<string, SlurmJobState>();
  if (ids.length === 0) return ok(states);
  const out = await call('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r'], o);
  if (!out.ok) {
    // squeue refuses the whole list when one id is unknown to slurmctld: ask one by one then.
    if (ids.length > 1 && /Invalid job id/i.test(out.error)) {
      for (const id of ids) {
        const one = await squeueStates([id], o);
        if (one.ok) for (const [k, v] of one.value) states.set(k, v);
      }
      return ok(states);
    }
    if (/Invalid job id/i.test(out.error)) return ok(states);
    return err(`squeue: ${out.error}`);
  }
  for (const line of out.value.split('\n')) {
    const [id, state, reason] = line.trim().split('|');
    if (id && state) states.set(id, { id, state, reason: reason ?? '' });
  }
  return ok(states);
}

/** Exit code, reason and restarts of one job: scontrol while slurmctld has it, else sacct. */
export async function jobDetail(id: string, o: SlurmEnv): Promise<SlurmJobDetail | undefined> {
  const sc = await call('scontrol', ['-o', 'show', 'job', id], o);
  if (sc.ok) {
    const f = (k: string) => new RegExp(`(?:^|\\s)${k}=(\\S*)`).exec(sc.value)?.[1] ?? '';
    return {
      id,
      state: f('JobState'),
      reason: f('Reason'),
      exitCode: f('ExitCode'),
      restarts: Number(f('Restarts') || '0'),
      nodes: f('NodeList'),
    };
  }
  const sa = await call('sacct', ['-n', '-P', '-X', '-j', id, '-o', 'State,ExitCode,Reason,NodeList'], o);
  const line = sa.ok ? sa.value.trim().split('\n')[0] : undefined;
  if (!line) return undefined;
  const [state = '', exitCode = '', reason = '', nodes = ''] = line.split('|');
  return { id, state: state.split(' ')[0]!, reason, exitCode, restarts: 0, nodes };
}

export async function scancel(ids: string[], o: SlurmEnv): Promise<void> {
  if (ids.length > 0) await call('scancel', ids, o);
}
