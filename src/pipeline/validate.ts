/**
 * Validation against the shipped JSON Schema (pipeline.schema.json, through the ajv-generated
 * validator) and translation of ajv's errors into positioned Diagnostics with plain-words messages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorObject } from 'ajv';
import { TAILOR_ROOT } from '../paths.js';
import { error, keyPath } from './diagnostics.js';
import { didYouMean } from './levenshtein.js';
import { validateRoot as generatedRoot, validateStage as generatedStage } from './schema-validate.generated.js';
import { kindName, locate, toJS, type PNode } from './tree.js';
import type { Diagnostic } from './types.js';

type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
const rootValidator = generatedRoot as unknown as Validate;
const stageValidator = generatedStage as unknown as Validate;

type Schema = Record<string, unknown>;
let schemaCache: Schema | undefined;
/** The schema itself, read only when an error needs it (for "did you mean" over its keys). */
function schemaJson(): Schema {
  schemaCache ??= JSON.parse(readFileSync(join(TAILOR_ROOT, 'src', 'pipeline', 'pipeline.schema.json'), 'utf8')) as Schema;
  return schemaCache;
}

/** The sub-schema at a JSON pointer (`#/definitions/stage/additionalProperties`), if any. */
export function schemaAt(schema: unknown, pointer: string): unknown {
  let node = schema;
  for (const seg of pointer.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

const TYPE_WORDS: Record<string, string> = {
  array: 'a list',
  object: 'a map',
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  null: 'null',
};

/** "a list", "an integer or a string" for ajv's `type` param. */
export function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? type : [type];
  return types.map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ');
}

/** The schema keyword errors nested under another error (branches of oneOf/anyOf, propertyNames). */
function nestedUnder(errors: ErrorObject[]): Set<ErrorObject> {
  const parents = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf' || e.keyword === 'propertyNames');
  return new Set(errors.filter((e) => parents.some((p) => p !== e && e.schemaPath.startsWith(`${p.schemaPath}/`))));
}

/**
 * Turn ajv errors into Diagnostics. `root` is the validated tree, `prefix` the key path of that
 * tree in the pipeline (['stages', 'pad'] for a stage), `schemaBase` the schema '#' refers to.
 * Only generic messages live here; each knows where to point: an unknown key at the key, a wrong
 * value at the value.
 */
export function mapAjvErrors(errors: ErrorObject[], root: PNode, prefix: string[], schemaBase: unknown): Diagnostic[] {
  const skip = nestedUnder(errors);
  const out: Diagnostic[] = [];
  for (const e of errors) {
    if (skip.has(e)) continue;
    const at = locate(root, e.instancePath);
    const path = [...prefix, ...at.path];
    const where = path.length ? keyPath(...path) : 'the top level';
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        const keyPos = at.node.kind === 'map' ? at.node.entries.get(key)?.keyPos : undefined;
        const parent = schemaAt(schemaBase, e.schemaPath.replace(/\/additionalProperties$/, '')) as { properties?: Schema } | undefined;
        const hint = didYouMean(key, Object.keys(parent?.properties ?? {}));
        out.push(error(`unknown key "${key}" in ${where}`, keyPos ?? at.node.pos, keyPath(...path, key), hint));
        break;
      }
      case 'required':
        out.push(error(`missing key "${String(params.missingProperty)}" in ${where}`, at.keyPos ?? at.node.pos, keyPath(...path, String(params.missingProperty))));
        break;
      case 'type':
        out.push(error(`${where} must be ${typeWords(params.type)}, got ${kindName(at.node)}`, at.node.pos, keyPath(...path)));
        break;
      case 'oneOf':
      case 'anyOf': {
        // The only composite in the schema is "exactly one of uses/cmd": say which way it failed.
        const branches = schemaAt(schemaBase, e.schemaPath) as Array<{ required?: string[] }> | undefined;
        const keys = (branches ?? []).flatMap((b) => b.required ?? []);
        const present = keys.filter((k) => at.node.kind === 'map' && at.node.entries.has(k));
        if (keys.length > 0 && present.length > 1) {
          const second = at.node.kind === 'map' ? at.node.entries.get(present[1] ?? '')?.keyPos : undefined;
          out.push(error(`${where} has both ${present.map((k) => `"${k}"`).join(' and ')}; keep one`, second ?? at.node.pos, keyPath(...path)));
        } else if (keys.length > 0) {
          out.push(error(`${where} needs ${keys.map((k) => `"${k}"`).join(' or ')}`, at.keyPos ?? at.node.pos, keyPath(...path)));
        } else {
          out.push(error(`${where} ${e.message ?? 'is invalid'}`, at.node.pos, keyPath(...path)));
        }
        break;
      }
      case 'propertyNames': {
        const name = String(params.propertyName);
        const keyPos = at.node.kind === 'map' ? at.node.entries.get(name)?.keyPos : undefined;
        const what = path.length === 1 && path[0] === 'stages' ? 'stage name' : 'key';
        out.push(error(`bad ${what} "${name}" in ${where}: use only letters, digits, ".", "_" and "-"`, keyPos ?? at.node.pos, keyPath(...path, name)));
        break;
      }
      case 'pattern':
        out.push(error(params.pattern === '\\S' ? `${where} must not be empty` : `${where} must match ${String(params.pattern)}`, at.node.pos, keyPath(...path)));
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        out.push(error(`${where} must be ${String(params.comparison)} ${String(params.limit)}, got ${JSON.stringify(toJS(at.node))}`, at.node.pos, keyPath(...path)));
        break;
      default:
        out.push(error(`${where} ${e.message ?? 'is invalid'}`, at.node.pos, keyPath(...path)));
    }
  }
  return out;
}

/**
 * Check the top level of a pipeline (keys, `vars`, `seed`, ...). Stage bodies are checked one by one
 * after templating (validateStageBody), so errors inside them are dropped here.
 */
export function validatePipelineRoot(root: PNode): Diagnostic[] {
  if (rootValidator(toJS(root))) return [];
  const errors = (rootValidator.errors ?? []).filter((e) => !/^\/stages\/[^/]+/.test(e.instancePath));
  return mapAjvErrors(errors, root, [], schemaJson());
}

/** Check one stage body (after templating) against `definitions/stage`; `group` names it in key paths. */
export function validateStageBody(body: PNode, group: string): Diagnostic[] {
  if (stageValidator(toJS(body))) return [];
  return mapAjvErrors(stageValidator.errors ?? [], body, ['stages', group], schemaAt(schemaJson(), '#/definitions/stage'));
}
