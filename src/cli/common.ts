/** Pieces every command shares: finding the pipeline, loading it with diagnostics, opening the cache. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadPipeline } from '../pipeline/load.js';
import { formatDiagnostic } from '../pipeline/diagnostics.js';
import type { Pipeline } from '../pipeline/types.js';
import { cacheDirFrom, Session } from '../run/session.js';

export const DEFAULT_PIPELINE = 'pipelines/fashion.yaml';

/** Exit codes: 0 ok, 1 a stage or check failed, 2 usage or pipeline error, 3 lock held, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, locked: 3, interrupted: 130 } as const;

export class UsageError extends Error {}

/** Split positionals into an optional pipeline path (first, when it looks like YAML) and the rest. */
export function takePipelineArg(positionals: string[], maxRest: number): { pipeline: string; rest: string[] } {
  const [first, ...others] = positionals;
  const isPipeline = first !== undefined && (/\.ya?ml$/.test(first) || positionals.length > maxRest);
  const pipeline = isPipeline ? first : DEFAULT_PIPELINE;
  const rest = isPipeline ? others : positionals;
  if (rest.length > maxRest) throw new UsageError(`unexpected argument "${rest[maxRest]}"`);
  return { pipeline, rest };
}

/**
 * Load and validate a pipeline; on failure print every diagnostic and return undefined. Parsed
 * trees are cached in the cache folder of `cacheFlag` (--cache, else $TAILOR_CACHE, else ./cache)
 * when it exists, never in another.
 */
export function loadOrReport(
  file: string,
  sets: string[],
  workdir = process.cwd(),
  cacheFlag?: string,
): Pipeline | undefined {
  const path = resolve(workdir, file);
  if (!existsSync(path)) {
    process.stderr.write(`tailor: pipeline file not found: ${file}\n`);
    return undefined;
  }
  const cacheDir = cacheDirFrom(cacheFlag, workdir);
  const loaded = loadPipeline(path, { sets, workdir, cacheDir: existsSync(cacheDir) ? cacheDir : false });
  if (!loaded.ok) {
    for (const d of loaded.error)
      process.stderr.write(formatDiagnostic(d, { color: Boolean(process.stderr.isTTY) }) + '\n');
    return undefined;
  }
  return loaded.value;
}

export async function openSession(cacheFlag: string | undefined, workdir = process.cwd()): Promise<Session> {
  return Session.open(cacheDirFrom(cacheFlag, workdir));
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}
