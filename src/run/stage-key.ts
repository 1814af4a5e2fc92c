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
import type { CodeFingerprint, Ingredients, LocalIngredients } from '../cache/key-ingredients.js';
import { canonicalJson } from './canonical-json.js';

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

/**
 * The stage's code key (`ctx.codeKey`): the hash of what defines its behaviour — the API version,
 * the definition and the code fingerprint of the module and everything it imports — but not its
 * params or inputs. Item caches and checkpoints keyed by it are dropped by any code change.
 */
export function codeKeyOf(local: Pick<LocalIngredients, 'api' | 'kind' | 'definition' | 'code'>): string {
  return hashBytes(
    canonicalJson({ api: local.api, kind: local.kind, definition: local.definition, code: local.code ?? null }),
  );
}
