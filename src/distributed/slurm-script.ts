/**
 * What one stage becomes on Slurm: the sbatch options (GPUs as gres, afterok ordering, the
 * partition, the user's extra options) and the job script, which runs the stage on the node
 * through `tailor worker --job FILE`, the same code a BullMQ worker runs per job.
 */
import { parse } from 'shell-quote';
import { shellQuote } from '../pipeline/cmd-env.js';
import { OptionError } from './option-error.js';
import { TAILOR_ROOT } from '../paths.js';
import { join } from 'node:path';

/**
 * `--slurm-args "…"` split as a shell would split it, without running a shell: quotes group
 * words, `$VAR` stays literal, and shell syntax (`;`, `|`, `&&`, redirections, globs) is refused.
 * Every word must belong to an option, since the job script is tailor's.
 */
export function splitSlurmArgs(text: string | undefined): string[] {
  if (!text) return [];
  const words = parse(text, (name) => `$${name}`);
  const out: string[] = [];
  for (const w of words) {
    if (typeof w !== 'string') {
      const what = 'op' in w ? w.op : 'comment' in w ? '#' : 'pattern';
      throw new OptionError(`--slurm-args: shell syntax (${JSON.stringify(what)}) is not allowed, only sbatch options`);
    }
    out.push(w);
  }
  if (out.length > 0 && !out[0]!.startsWith('-')) {
    throw new OptionError(`--slurm-args: "${out[0]}" is not an sbatch option (the job script is tailor's)`);
  }
  return out;
}

export interface SbatchPlan {
  stage: string;
  gpus: number;
  afterOk: string[];
  logFile: string;
  jobDir: string;
  partition?: string;
  extraArgs: string[];
  script: string;
}

export function sbatchArgs(p: SbatchPlan): string[] {
  return [
    `--job-name=tailor-${p.stage}`.slice(0, 120),
    `--output=${p.logFile}`,
    '--open-mode=append', // a requeued job keeps the first attempt's log
    `--chdir=${p.jobDir}`,
    '--requeue',
    // An upstream that failed cancels the job, rather than leaving it pending forever.
    '--kill-on-invalid-dep=yes',
    ...(p.partition ? [`--partition=${p.partition}`] : []),
    ...(p.gpus > 0 ? [`--gres=gpu:${p.gpus}`] : []),
    ...(p.afterOk.length > 0 ? [`--dependency=afterok:${p.afterOk.join(':')}`] : []),
    ...p.extraArgs,
    p.script,
  ];
}

export interface ScriptPlan {
  stage: string;
  run: string;
  jobFile: string;
  remoteUrl: string;
  /** The node's cache; default: $TAILOR_NODE_CACHE on the node, else a per-user folder under $TMPDIR. */
  nodeCache?: string;
  workdir?: string;
}

/** The job script: everything quoted, nothing taken from the job's data but safe names. */
export function jobScript(p: ScriptPlan): string {
  const cache = p.nodeCache
    ? shellQuote(p.nodeCache)
    : '"${TAILOR_NODE_CACHE:-${TMPDIR:-/tmp}/tailor-node-cache-$(id -u)}"';
  const args = [
    shellQuote(process.execPath),
    shellQuote(join(TAILOR_ROOT, 'bin', 'tailor')),
    'worker',
    '--job',
    shellQuote(p.jobFile),
    '--remote',
    shellQuote(p.remoteUrl),
    '--cache',
    cache,
    ...(p.workdir ? ['--workdir', shellQuote(p.workdir)] : []),
  ];
  return [
    '#!/bin/sh',
    `# tailor: stage ${p.stage} of run ${p.run} (written by tailor run --executor slurm)`,
    `exec ${args.join(' ')}`,
    '',
  ].join('\n');
}
