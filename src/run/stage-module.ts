/** Loading stage modules (TypeScript, through tsx) and checking their params with ajv. */
import { pathToFileURL } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import type { JsonSchema, StageDefinition } from '../stage-api.js';
import type { StageSpec } from '../pipeline/types.js';

/** Import a stage module (.ts or .js) and return its default export, checked for shape. */
export async function loadStageModule(absPath: string): Promise<StageDefinition> {
  const url = pathToFileURL(absPath).href;
  let mod: { default?: unknown };
  if (/\.[cm]?ts$/.test(absPath)) {
    const { tsImport } = await import('tsx/esm/api');
    mod = (await tsImport(url, import.meta.url)) as { default?: unknown };
  } else {
    mod = (await import(url)) as { default?: unknown };
  }
  // tsx may wrap a default export once more when the module is seen as CommonJS.
  let def = mod.default as { default?: unknown } | undefined;
  if (def && typeof def === 'object' && 'default' in def && !('run' in def)) def = def.default as typeof def;
  const stage = def as Partial<StageDefinition> | undefined;
  if (!stage || typeof stage.run !== 'function' || typeof stage.params !== 'object') {
    throw new Error(`${absPath}: default export is not a stage (expected export default defineStage({ params, run }))`);
  }
  return stage as StageDefinition;
}

/**
 * What each module stage declares as `deterministic` in defineStage (cmd stages declare nothing):
 * the default of `verify.deterministic`, for the lock file and for `tailor verify`.
 */
export async function declaredDeterminism(stages: StageSpec[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  await Promise.all(
    stages.map(async (s) => {
      if (s.kind !== 'module' || !s.module) return;
      const def = await loadStageModule(s.module).catch(() => undefined);
      if (def?.deterministic !== undefined) out.set(s.name, def.deterministic);
    }),
  );
  return out;
}

export interface ParamCheck {
  ok: boolean;
  /** Params with schema defaults filled in (a copy). */
  value: Record<string, unknown>;
  errors: ErrorObject[];
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const compiled = new WeakMap<JsonSchema, ReturnType<typeof ajv.compile>>();

/** Validate params against a stage's schema, filling defaults into a copy. */
export function checkParams(schema: JsonSchema, params: Record<string, unknown>): ParamCheck {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  const value = structuredClone(params);
  const ok = validate(value) as boolean;
  return { ok, value, errors: ok ? [] : [...(validate.errors ?? [])] };
}
