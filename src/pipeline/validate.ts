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
import { validateStage as generatedStage, validateTop as generatedTop } from './schema-validate.generated.js';
import { describe, locate, toJS, type PNode } from './tree.js';
import type { Diagnostic, SourcePos } from './types.js';

type Validate = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
const topValidator = generatedTop as unknown as Validate;
const stageValidator = generatedStage as unknown as Validate;

type Schema = Record<string, unknown>;
let schemaCache: Schema | undefined;
/** The schema itself, read only when an error needs it (for "did you mean" over its keys). */
function schemaJson(): Schema {
  schemaCache ??= JSON.parse(
    readFileSync(join(TAILOR_ROOT, 'src', 'pipeline', 'pipeline.schema.json'), 'utf8'),
  ) as Schema;
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

/** What the error mapper needs to know about the validated data: values and where they are. */
export interface Locator {
  /** The value at `path`, where it is written, and where its key is (for the deepest part found). */
  find(path: string[]): { value: unknown; pos: SourcePos; keyPos?: SourcePos; path: string[] };
  /** Where key `key` of the map at `path` is written. */
  keyPos(path: string[], key: string): SourcePos | undefined;
}

/** A Locator over a positioned tree; `rootKeyPos` is where the tree's own key is (a stage's name). */
export function treeLocator(root: PNode, rootKeyPos?: SourcePos): Locator {
  const pointer = (path: string[]) => path.map((p) => `/${p.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  return {
    find(path) {
      const at = locate(root, pointer(path));
      return { value: toJS(at.node), pos: at.node.pos, keyPos: at.keyPos ?? rootKeyPos, path: at.path };
    },
    keyPos(path, key) {
      const at = locate(root, pointer(path));
      return at.node.kind === 'map' ? at.node.entries.get(key)?.keyPos : undefined;
    },
  };
}

function pointerPath(pointer: string): string[] {
  return pointer === ''
    ? []
    : pointer
        .slice(1)
        .split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Turn ajv errors into Diagnostics. `prefix` is the key path of the validated value in the
 * pipeline (['stages', 'pad'] for a stage), `schemaBase` the schema that '#' refers to, `noun` what
 * its keys are called in messages. Each error points where the fix goes: an unknown key at the key,
 * a wrong value at the value.
 */
export function mapAjvErrors(
  errors: ErrorObject[],
  loc: Locator,
  prefix: string[],
  schemaBase: unknown,
  noun = 'key',
): Diagnostic[] {
  const skip = nestedUnder(errors);
  const out: Diagnostic[] = [];
  for (const e of errors) {
    if (skip.has(e)) continue;
    const at = loc.find(pointerPath(e.instancePath));
    const path = [...prefix, ...at.path];
    const where = path.length ? keyPath(...path) : 'the top level';
    const params = e.params as Record<string, unknown>;
    const got = describe(at.value);
    switch (e.keyword) {
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        const parent = schemaAt(schemaBase, e.schemaPath.replace(/\/additionalProperties$/, '')) as
          { properties?: Schema } | undefined;
        const hint = didYouMean(key, Object.keys(parent?.properties ?? {}));
        out.push(
          error(
            `unknown ${noun} "${key}" in ${where}`,
            loc.keyPos(at.path, key) ?? at.pos,
            keyPath(...path, key),
            hint,
          ),
        );
        break;
      }
      case 'required':
        out.push(
          error(
            `missing ${noun} "${String(params.missingProperty)}" in ${where}`,
            at.keyPos ?? at.pos,
            keyPath(...path, String(params.missingProperty)),
          ),
        );
        break;
      case 'type':
        out.push(error(`${where} must be ${typeWords(params.type)}, got ${got}`, at.pos, keyPath(...path)));
        break;
      case 'enum':
        out.push(
          error(
            `${where} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got}`,
            at.pos,
            keyPath(...path),
          ),
        );
        break;
      case 'oneOf':
      case 'anyOf': {
        // The composite in the pipeline schema is "exactly one of uses/cmd": say which way it failed.
        const branches = schemaAt(schemaBase, e.schemaPath) as Array<{ required?: string[] }> | undefined;
        const keys = (branches ?? []).flatMap((b) => b.required ?? []);
        const value = at.value !== null && typeof at.value === 'object' ? at.value : {};
        const present = keys.filter((k) => Object.hasOwn(value, k));
        if (keys.length > 0 && present.length > 1) {
          // Point at whichever of them is written last.
          const places = present.map((k) => loc.keyPos(at.path, k)).filter((p): p is SourcePos => p !== undefined);
          const second = places.sort((a, b) => a.line - b.line || a.col - b.col)[places.length - 1];
          out.push(
            error(
              `${where} has both ${present.map((k) => `"${k}"`).join(' and ')}; keep one`,
              second ?? at.pos,
              keyPath(...path),
            ),
          );
        } else if (keys.length > 0) {
          out.push(
            error(`${where} needs ${keys.map((k) => `"${k}"`).join(' or ')}`, at.keyPos ?? at.pos, keyPath(...path)),
          );
        } else {
          out.push(error(`${where} ${e.message ?? 'is invalid'}, got ${got}`, at.pos, keyPath(...path)));
        }
        break;
      }
      case 'propertyNames': {
        const name = String(params.propertyName);
        const what = path.length === 1 && path[0] === 'stages' ? 'stage name' : noun;
        out.push(
          error(
            `bad ${what} "${name}" in ${where}: use letters, digits, ".", "_" and "-", starting with a letter, digit or "_" (at most 100 characters)`,
            loc.keyPos(at.path, name) ?? at.pos,
            keyPath(...path, name),
          ),
        );
        break;
      }
      case 'pattern':
        out.push(
          error(
            params.pattern === '\\S'
              ? `${where} must not be empty`
              : `${where} must match ${String(params.pattern)}, got ${got}`,
            at.pos,
            keyPath(...path),
          ),
        );
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        out.push(
          error(
            e.keyword === 'maximum' && params.limit === Number.MAX_SAFE_INTEGER
              ? `${where} must be a whole number from 0 to 2^53-1 (${Number.MAX_SAFE_INTEGER}), got ${got}: larger numbers are rounded`
              : `${where} must be ${String(params.comparison)} ${String(params.limit)}, got ${JSON.stringify(at.value)}`,
            at.pos,
            keyPath(...path),
          ),
        );
        break;
      default:
        out.push(error(`${where} ${e.message ?? 'is invalid'}, got ${got}`, at.pos, keyPath(...path)));
    }
  }
  return out;
}

/**
 * Check the top level of a pipeline (keys, `vars`, `seed`, ...). Stage bodies are checked one by one
 * after templating (validateStageBody), so errors inside them are dropped here.
 */
export function validatePipelineRoot(root: PNode): Diagnostic[] {
  // Only the stage names matter here, not their bodies: skip converting those.
  let plain: unknown = null;
  if (root.kind === 'map') {
    const top: Record<string, unknown> = {};
    for (const [key, e] of root.entries) {
      if (key === 'stages' && e.value.kind === 'map') {
        const names: Record<string, null> = {};
        for (const name of e.value.entries.keys()) names[name] = null;
        top[key] = names;
      } else {
        top[key] = toJS(e.value);
      }
    }
    plain = top;
  } else {
    plain = toJS(root);
  }
  if (topValidator(plain)) return [];
  return mapAjvErrors(topValidator.errors ?? [], treeLocator(root), [], schemaJson());
}

/**
 * Check one stage body (after templating) against `definitions/stage`; `group` names it in key
 * paths, `keyPos` is where its name is written (errors about the whole stage point there).
 */
export function validateStageBody(
  body: PNode,
  group: string,
  keyPos: SourcePos,
  plain: unknown = toJS(body),
): Diagnostic[] {
  if (stageValidator(plain)) return [];
  return mapAjvErrors(
    stageValidator.errors ?? [],
    treeLocator(body, keyPos),
    ['stages', group],
    schemaAt(schemaJson(), '#/definitions/stage'),
  );
}
