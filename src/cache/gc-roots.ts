/**
 * What `tailor gc` must keep because a lock file names it. Lock files sit beside their pipelines
 * (`pipelines/one/train.lock.json` for `pipelines/one/train.yaml`), so gc reads the one beside every
 * pipeline the index knows (ids are paths from the working folder gc runs in) whose file still
 * exists, and every `*.lock.json` under `pipelines/` at any depth.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { CacheIndex } from './index-db.js';
import { isTreeHash } from './content-store.js';

/** How deep under `pipelines/` gc looks for lock files. */
const MAX_DEPTH = 8;

/** The lock file of a pipeline file: `x.yaml` -> `x.lock.json` beside it. */
export function lockFileBeside(pipelineFile: string): string {
  return join(dirname(pipelineFile), `${basename(pipelineFile).replace(/\.ya?ml$/, '')}.lock.json`);
}

function lockFilesUnder(dir: string, depth: number, out: Set<string>): void {
  if (depth > MAX_DEPTH) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) lockFilesUnder(path, depth + 1, out);
    else if (e.isFile() && e.name.endsWith('.lock.json')) out.add(path);
  }
}

/** A stage key and its output tree hash, as a lock file names them. */
export interface LockRoot {
  key: string;
  output: string;
}

/** The entries of one lock file with a well-formed output hash (nothing when it is unreadable). */
function entriesIn(file: string): LockRoot[] {
  try {
    const lock = JSON.parse(readFileSync(file, 'utf8')) as {
      stages?: Record<string, { key?: unknown; output?: unknown }>;
    };
    return Object.values(lock.stages ?? {}).flatMap((e) =>
      typeof e.output === 'string' && isTreeHash(e.output)
        ? [{ key: typeof e.key === 'string' ? e.key : '', output: e.output }]
        : [],
    );
  } catch {
    return [];
  }
}

/** The lock files gc reads, for `workdir`: beside each known pipeline, and under `pipelines/`. */
export function knownLockFiles(index: CacheIndex, workdir: string): string[] {
  const files = new Set<string>();
  const ids = new Set(index.runs.listRuns().map((r) => r.pipeline));
  for (const id of ids) {
    const file = resolve(workdir, id);
    if (/\.ya?ml$/.test(id) && existsSync(file)) files.add(lockFileBeside(file));
  }
  lockFilesUnder(join(workdir, 'pipelines'), 0, files);
  return [...files].filter((f) => existsSync(f)).sort();
}

/** Every entry (stage key and output) a lock file of a known pipeline names. */
export function lockFileRoots(index: CacheIndex, workdir: string): LockRoot[] {
  return knownLockFiles(index, workdir).flatMap(entriesIn);
}

/** Every tree hash a lock file of a known pipeline names. */
export function lockFileOutputs(index: CacheIndex, workdir: string): Set<string> {
  return new Set(lockFileRoots(index, workdir).map((e) => e.output));
}
