/**
 * A stage's key: the hash of labelled ingredients. The ingredients are stored beside the key so
 * `tailor status` can say exactly what changed. No absolute paths enter a key, so the same
 * pipeline checked out elsewhere (CI) computes the same keys.
 */
import { relative } from 'node:path';
import { STAGE_API_VERSION } from '../stage-api.js';
import { hashBytes } from '../cache/hash.js';
import type { StageSpec } from '../pipeline/types.js';
import { TAILOR_ROOT } from '../paths.js';
import type { CodeFingerprint } from './code-fingerprint.js';
import { canonicalJson } from './canonical-json.js';

export interface Ingredients {
  api: number;
  kind: 'module' | 'cmd';
  /** `builtin:pad`, a module path relative to the workdir, or the command text. */
  definition: string;
  params: Record<string, unknown>;
  seed: number;
  code?: CodeFingerprint;
  /** Upstream stage name -> its output tree hash. */
  needs: Record<string, string>;
  /** Dependency path as written -> content hash (`missing` when absent). */
  deps: Record<string, string>;
}

/** Everything but the upstream outputs: known before upstream stages have run. */
export type LocalIngredients = Omit<Ingredients, 'needs'>;

export function localIngredients(
  spec: StageSpec,
  workdir: string,
  code: CodeFingerprint | undefined,
  deps: Record<string, string>,
): LocalIngredients {
  const definition =
    spec.kind === 'cmd'
      ? (spec.cmd ?? '')
      : spec.builtin
        ? `builtin:${relative(`${TAILOR_ROOT}/stages`, spec.module ?? '').replace(/\.ts$/, '')}`
        : relative(workdir, spec.module ?? '');
  return { api: STAGE_API_VERSION, kind: spec.kind, definition, params: spec.params, seed: spec.seed, code, deps };
}

export function stageKey(ingredients: Ingredients): string {
  return hashBytes(canonicalJson(ingredients));
}
