/**
 * `pipelines/NAME.lock.json`: each stage's key, output hash and metrics after a successful run,
 * with stable key order so diffs stay small. The basis for `tailor verify` in CI.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { Pipeline } from '../pipeline/types.js';
import { sortDeep } from './canonical-json.js';

export interface LockEntry {
  key: string;
  output: string;
  /**
   * Hash of the output without its metrics.json (src/verify/content-hash.ts): what `tailor verify`
   * compares for deterministic stages, since metrics.json usually holds timings. Absent in lock
   * files written before it existed (verify then compares `output`).
   */
  content?: string;
  deterministic: boolean;
  metrics: Record<string, unknown>;
}

export interface LockFile {
  pipeline: string;
  stages: Record<string, LockEntry>;
}

export function lockPathOf(pipeline: Pipeline): string {
  return join(dirname(pipeline.file), `${basename(pipeline.file).replace(/\.ya?ml$/, '')}.lock.json`);
}

export function readLockFile(file: string): LockFile | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockFile;
  } catch {
    return undefined;
  }
}

export function writeLockFile(file: string, lock: LockFile): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(sortDeep(lock), null, 2) + '\n');
  renameSync(tmp, file);
}
