/** Checking a stage's params against its JSON Schema with ajv (defaults filled into a copy). */
import { Ajv, type ErrorObject } from 'ajv';
import type { JsonSchema } from '../stage-api.js';

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
