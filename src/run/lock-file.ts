/**
 * `pipelines/NAME.lock.json`: each stage's key, output hash and metrics after a successful run,
 * with stable key order so diffs stay small. The basis for `tailor verify` in CI.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { Pipeline } from '../pipeline/types.js';
import { contentHash } from '../cache/content-hash.js';
import { sortDeep } from './canonical-json.js';
import type { Session } from './session.js';
import { declaredDeterminism } from './stage-module.js';

export interface LockEntry {
  key: string;
  output: string;
  /**
   * Hash of the output without its metrics.json (src/cache/content-hash.ts): what `tailor verify`
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

/** Record every stage whose latest output is known, keeping entries of stages not touched. */
export async function updateLockFile(session: Session, pipeline: Pipeline): Promise<void> {
  const file = lockPathOf(pipeline);
  // The lock file keeps the pipeline's display name (its id is a path from the working folder).
  const lock: LockFile = readLockFile(file) ?? { pipeline: pipeline.displayName, stages: {} };
  lock.pipeline = pipeline.displayName;
  const names = new Set(pipeline.stages.map((s) => s.name));
  lock.stages = Object.fromEntries(Object.entries(lock.stages).filter(([name]) => names.has(name)));
  const declared = await declaredDeterminism(pipeline.stages);
  const latestByStage = session.index.outputs.latestOfPipeline(pipeline.name);
  for (const spec of pipeline.stages) {
    const latest = latestByStage.get(spec.name);
    if (!latest) continue;
    const before = lock.stages[spec.name];
    // Recorded at commit; outputs from before schema 3 are walked once (an unchanged one keeps the lock's).
    const content =
      latest.contentHash ??
      (before?.output === latest.treeHash && before.content
        ? before.content
        : await contentHash(session.store.pathOf(latest.treeHash), session.hasher).catch(() => undefined));
    lock.stages[spec.name] = {
      key: latest.stageKey,
      output: latest.treeHash,
      ...(content ? { content } : {}),
      deterministic: spec.verify?.deterministic ?? declared.get(spec.name) ?? false,
      metrics: latest.metrics,
    };
  }
  writeLockFile(file, lock);
}
