/**
 * What `tailor watch` watches for a pipeline, and which stages each path feeds: the YAML and the
 * files it extends (every stage), each module stage's file and every local file it imports (that
 * stage), each `deps` file or folder (that stage; a folder covers everything under it).
 */
import { isAbsolute, resolve, sep } from 'node:path';
import type { Pipeline } from '../pipeline/types.js';
import type { CodeFingerprinter } from '../run/code-fingerprint.js';

export interface WatchSet {
  /** The pipeline files (a change there means: reload and compare stage definitions). */
  sources: Set<string>;
  /** Absolute file or folder path -> stages whose inputs it is. */
  inputs: Map<string, Set<string>>;
  /** Workspace paths stages export to: outputs, not inputs (a run writing them must not retrigger). */
  exports: Set<string>;
}

/** Every path a watcher should be told about. */
export function watchedPaths(set: WatchSet): string[] {
  return [...new Set([...set.sources, ...set.inputs.keys()])].sort();
}

export function buildWatchSet(pipeline: Pipeline, code: CodeFingerprinter): WatchSet {
  const inputs = new Map<string, Set<string>>();
  const add = (path: string, stage: string) => {
    const stages = inputs.get(path) ?? new Set<string>();
    stages.add(stage);
    inputs.set(path, stages);
  };
  for (const spec of pipeline.stages) {
    if (spec.kind === 'module' && spec.module) {
      add(spec.module, spec.name);
      for (const file of codeFiles(spec.module, code)) add(file, spec.name);
    }
    for (const dep of spec.deps) add(resolve(pipeline.workdir, dep), spec.name);
  }
  const exports = new Set(
    pipeline.stages.flatMap((s) => Object.values(s.export).map((to) => resolve(pipeline.workdir, to))),
  );
  return { sources: new Set(pipeline.sources.map((f) => resolve(f))), inputs, exports };
}

/** The local files a module imports, transitively (the module alone when it cannot be parsed). */
function codeFiles(module: string, code: CodeFingerprinter): string[] {
  try {
    // Fingerprint paths are relative to the base given; with '/' they resolve back to absolute ones.
    return Object.keys(code.fingerprint(module, sep).files).map((f) => (isAbsolute(f) ? f : resolve(sep, f)));
  } catch {
    return [module];
  }
}

/** Stages whose inputs include `path` (the path itself, or a watched folder above it). */
export function stagesReading(set: WatchSet, path: string): Set<string> {
  const out = new Set<string>();
  for (const [input, stages] of set.inputs) {
    if (path === input || path.startsWith(input + sep)) for (const s of stages) out.add(s);
  }
  return out;
}

/** True for a path a stage exports to (or below such a folder). */
export function isExportTarget(set: WatchSet, path: string): boolean {
  for (const e of set.exports) if (path === e || path.startsWith(e + sep)) return true;
  return false;
}
