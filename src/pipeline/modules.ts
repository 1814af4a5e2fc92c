/** Resolving `uses`: a built-in stage name, or a module path relative to the working folder. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { TAILOR_ROOT, builtinStagePath } from '../paths.js';
import { error } from './diagnostics.js';
import { didYouMean } from './levenshtein.js';
import type { Diagnostic, SourcePos } from './types.js';

/** Whether `uses` is written as a path (holds a slash or ends in a module extension). */
export function isModulePath(uses: string): boolean {
  return uses.includes('/') || uses.includes('\\') || /\.[cm]?[jt]s$/.test(uses);
}

/** Names of the built-in stages (`stages/*.ts` of the tailor package). */
export function builtinStageNames(): string[] {
  try {
    return readdirSync(join(TAILOR_ROOT, 'stages'))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => f.slice(0, -3));
  } catch {
    return [];
  }
}

export interface ModuleRef {
  module: string;
  builtin: boolean;
}

/**
 * Resolves `uses` values, checking each file once per load (a 1,000-stage pipeline usually names
 * a handful of modules).
 */
export class ModuleResolver {
  private readonly seen = new Map<string, boolean>();
  constructor(private readonly workdir: string) {}

  private isFile(path: string): boolean {
    let found = this.seen.get(path);
    if (found === undefined) {
      found = existsSync(path) && statSync(path).isFile();
      this.seen.set(path, found);
    }
    return found;
  }

  /** The module for `uses`, or undefined after pushing an error at `pos`. */
  resolve(uses: string, pos: SourcePos, key: string, diags: Diagnostic[]): ModuleRef | undefined {
    if (isModulePath(uses)) {
      const module = isAbsolute(uses) ? uses : resolve(this.workdir, uses);
      if (this.isFile(module)) return { module, builtin: false };
      diags.push(
        error(
          `stage module not found: ${uses}`,
          pos,
          key,
          `module paths are relative to the working folder, ${this.workdir}`,
        ),
      );
      return undefined;
    }
    const module = builtinStagePath(uses);
    if (/^[A-Za-z0-9._-]+$/.test(uses) && this.isFile(module)) return { module, builtin: true };
    const hint =
      didYouMean(uses, builtinStageNames()) ?? 'a module of your own is written as a path, e.g. stages/my-stage.ts';
    diags.push(error(`unknown built-in stage "${uses}"`, pos, key, hint));
    return undefined;
  }
}
