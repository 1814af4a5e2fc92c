/**
 * What a stage key is made of, as the index stores it beside the key: labelled values, so
 * `tailor status` can say exactly what changed ("param size: 224 -> 299"). The engine computes
 * them (src/run/stage-key.ts); the cache only keeps them, so the types live here, below both.
 */

/** Code fingerprint of a module stage: its local source files and the packages it imports. */
export interface CodeFingerprint {
  /** Local source files (paths relative to a base folder) -> token-stream hash. */
  files: Record<string, string>;
  /** Imported packages -> installed version. */
  packages: Record<string, string>;
}

export interface Ingredients {
  api: number;
  kind: 'module' | 'cmd';
  /** `builtin:pad`, a module path relative to the workdir, or the command text. */
  definition: string;
  params: Record<string, unknown>;
  seed: number;
  code?: CodeFingerprint;
  /** Upstream stage name -> its output content hash. */
  needs: Record<string, string>;
  /** Dependency path as written -> content hash (`missing` when absent). */
  deps: Record<string, string>;
}

/** Everything but the upstream outputs: known before upstream stages have run. */
export type LocalIngredients = Omit<Ingredients, 'needs'>;
