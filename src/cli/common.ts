/** Pieces every command shares: finding the pipeline, loading it with diagnostics, opening the cache. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadPipeline } from '../pipeline/load.js';
import { formatDiagnostic } from '../pipeline/diagnostics.js';
import type { Diagnostic, Pipeline } from '../pipeline/types.js';
import { cacheDirFrom, Session } from '../run/session.js';
import { formatHelp, type CommandSpec } from './options.js';

export const DEFAULT_PIPELINE = 'pipelines/fashion.yaml';

/** Exit codes: 0 ok, 1 a stage or check failed, 2 usage, pipeline or cache error, 3 lock held, 130 interrupted. */
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

/** Print diagnostics to stderr, underlined and coloured on a terminal. */
export function printDiagnostics(diags: Diagnostic[]): void {
  for (const d of diags) process.stderr.write(formatDiagnostic(d, { color: Boolean(process.stderr.isTTY) }) + '\n');
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
    printDiagnostics(loaded.error);
    return undefined;
  }
  return loaded.value;
}

let lastCacheDir: string | undefined;

/** The cache folder the last openSession opened (for messages about a damaged index). */
export function openedCacheDir(): string | undefined {
  return lastCacheDir;
}

export async function openSession(cacheFlag: string | undefined, workdir = process.cwd()): Promise<Session> {
  lastCacheDir = cacheDirFrom(cacheFlag, workdir);
  return Session.open(lastCacheDir);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

/** `tailor <command> --help`: print the command's help; exit 0. */
export function printHelp(spec: CommandSpec): number {
  process.stdout.write(formatHelp(spec));
  return EXIT.ok;
}
