/**
 * Jobs as files, for executors that start a process per stage (Slurm): `<id>.job.json` holds
 * the StageJob, `<id>.result.json` the worker's result (written by rename, so it is whole or
 * absent), `<id>.log` the job's output. A job whose upstream was still running at submission
 * reads that upstream's result file from the same folder, which every node sees.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isTreeHash } from '../cache/content-store.js';
import { jobIdOf, type ResolvedNeed, type StageJob, type StageJobResult } from './stage-job.js';

export function jobFileOf(dir: string, run: string, stage: string): string {
  return join(dir, `${jobIdOf(run, stage)}.job.json`);
}

export function resultFileOf(jobFile: string): string {
  return jobFile.replace(/\.job\.json$/, '') + '.result.json';
}

export function logFileOf(jobFile: string): string {
  return jobFile.replace(/\.job\.json$/, '') + '.log';
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 1) + '\n');
  await rename(tmp, file);
}

export async function readResult(file: string): Promise<StageJobResult | undefined> {
  try {
    const r = JSON.parse(await readFile(file, 'utf8')) as StageJobResult;
    return typeof r === 'object' && r !== null && typeof r.ok === 'boolean' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The output of an upstream job of the same run, from its result file beside `jobFile`. */
export function pendingResolver(jobFile: string, job: StageJob): (stage: string) => Promise<ResolvedNeed | undefined> {
  return async (stage) => {
    const r = await readResult(resultFileOf(jobFileOf(dirname(jobFile), job.run, stage)));
    if (!r?.ok || !isTreeHash(r.key) || !isTreeHash(r.treeHash) || !isTreeHash(r.contentHash)) return undefined;
    return { key: r.key, treeHash: r.treeHash, contentHash: r.contentHash };
  };
}
