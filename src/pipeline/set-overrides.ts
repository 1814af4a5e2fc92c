/**
 * `--set` overrides from the command line: `STAGE.KEY=VALUE`, `STAGE.a.b=VALUE` (nested params),
 * `GROUP.KEY=VALUE` (every foreach member), `GROUP@ITEM.KEY=VALUE` (one member), `vars.NAME=VALUE`;
 * `STAGE.shards=N` sets the stage key `shards` (STAGE_KEY_SETS), not a param.
 * VALUE is read as a YAML scalar or flow value, so `299` is a number, `true` a boolean, `[1,2]` a list.
 * Positions are in file `--set`: line = which `--set` (1-based), col = offset in the argument.
 */
import { SET_FILE, error, keyPath } from './diagnostics.js';
import { yaml } from './lazy-yaml.js';
import { didYouMean } from './levenshtein.js';
import { emptyMap, fromJS, kindName, type PMap, type PNode } from './tree.js';
import type { Diagnostic, SourcePos } from './types.js';

export interface SetOverride {
  /** The argument as given. */
  arg: string;
  /** Position of the key part (after the stage name), for errors about the key. */
  keyPos: SourcePos;
  /** Position of VALUE. */
  valuePos: SourcePos;
  /** The left side split at dots (`pad.size` -> ['pad', 'size']). */
  segments: string[];
  /** Offset of each segment in the argument. */
  offsets: number[];
  value: unknown;
}

function argPos(arg: string, index: number, offset: number, length: number): SourcePos {
  return { file: SET_FILE, line: index + 1, col: offset + 1, length: Math.max(1, length), text: arg };
}

const USAGE = 'expected STAGE.KEY=VALUE or vars.NAME=VALUE';

/** Read VALUE as YAML (scalar or flow collection); a block collection stays a plain string. */
function parseValue(text: string): { value: unknown } | { error: string } {
  if (text.trim() === '') return { value: '' };
  const { isCollection, parseDocument } = yaml();
  const doc = parseDocument(text, { prettyErrors: false });
  const first = doc.errors[0];
  if (first) return { error: first.message.split('\n')[0] ?? 'bad YAML' };
  if (isCollection(doc.contents) && !doc.contents.flow) return { value: text };
  try {
    // Aliases in a --set value are bounded like the pipeline's own (yaml's alias-count guard).
    return { value: doc.toJS({ maxAliasCount: 100 }) as unknown };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** Parse every `--set` argument; malformed ones become Diagnostics. */
export function parseSets(args: readonly string[], diags: Diagnostic[]): SetOverride[] {
  const out: SetOverride[] = [];
  args.forEach((arg, index) => {
    const eq = arg.indexOf('=');
    const lhs = eq < 0 ? arg : arg.slice(0, eq);
    const segments = lhs.split('.');
    const offsets: number[] = [];
    let offset = 0;
    for (const s of segments) {
      offsets.push(offset);
      offset += s.length + 1;
    }
    const empty = segments.findIndex((s) => s.trim() === '');
    if (eq < 0 || segments.length < 2 || empty >= 0) {
      const at = eq < 0 ? 0 : empty >= 0 ? (offsets[empty] ?? 0) : 0;
      const why = eq < 0 ? 'no "="' : empty >= 0 ? 'an empty name' : 'no "." between the stage and the key';
      diags.push(
        error(
          `malformed --set "${arg}": ${why}; ${USAGE}`,
          argPos(arg, index, at, eq < 0 ? arg.length : lhs.length),
          '--set',
        ),
      );
      return;
    }
    const valueText = arg.slice(eq + 1);
    const valuePos = argPos(arg, index, eq + 1, valueText.length);
    const parsed = parseValue(valueText);
    if ('error' in parsed) {
      diags.push(error(`malformed --set value "${valueText}": ${parsed.error}`, valuePos, '--set'));
      return;
    }
    const keyStart = offsets[1] ?? 0;
    out.push({
      arg,
      keyPos: argPos(arg, index, keyStart, eq - keyStart),
      valuePos,
      segments,
      offsets,
      value: parsed.value,
    });
  });
  return out;
}

/**
 * A copy of `map` with `path` set to `value` (maps on the way created or copied, never mutated:
 * foreach members share nodes). Returns an error message when something on the way is not a map.
 */
export function withPath(map: PMap, path: string[], keyPos: SourcePos, value: PNode): PMap | { error: string } {
  const [head = '', ...rest] = path;
  const existing = map.entries.get(head);
  let next: PNode = value;
  if (rest.length > 0) {
    const child = existing?.value ?? emptyMap(keyPos);
    if (child.kind !== 'map') return { error: `"${head}" is ${kindName(child)}, not a map` };
    const r = withPath(child, rest, keyPos, value);
    if ('error' in r) return r;
    next = r;
  }
  const entries = new Map(map.entries);
  entries.set(head, { key: head, keyPos: rest.length > 0 && existing ? existing.keyPos : keyPos, value: next });
  return { ...map, entries };
}

/**
 * Stage keys, not params, that `--set STAGE.KEY=VALUE` sets: how a stage is run rather than what it
 * computes (`--set pad.shards=4`). Every other key is a param.
 */
export const STAGE_KEY_SETS: ReadonlySet<string> = new Set(['shards']);

/** Where a stage override's path goes in the stage body: a stage key of STAGE_KEY_SETS, else under params. */
export function stageBodyPath(path: readonly string[]): string[] {
  return path.length === 1 && STAGE_KEY_SETS.has(path[0]!) ? [...path] : ['params', ...path];
}

/** Whether an override targets `vars`. */
export function isVarSet(o: SetOverride): boolean {
  return o.segments[0] === 'vars';
}

/** Apply `vars.NAME...=VALUE` overrides (before templating). Unknown var names are errors. */
export function applyVarSets(vars: PMap | undefined, overrides: SetOverride[], diags: Diagnostic[]): PMap | undefined {
  let out = vars;
  for (const o of overrides.filter(isVarSet)) {
    const path = o.segments.slice(1);
    const name = path[0] ?? '';
    if (!out?.entries.has(name)) {
      const pos = { ...o.keyPos, length: name.length };
      diags.push(
        error(
          `--set: unknown variable "vars.${name}"`,
          pos,
          keyPath('vars', name),
          didYouMean(name, out ? out.entries.keys() : []),
        ),
      );
      continue;
    }
    const r = withPath(out, path, o.keyPos, fromJS(o.value, o.valuePos));
    if ('error' in r) diags.push(error(`--set ${o.arg}: ${r.error}`, o.keyPos, keyPath(...o.segments)));
    else out = r;
  }
  return out;
}

/**
 * Split a stage override's left side into the stage (longest prefix that names a stage or group:
 * stage names may hold dots) and the param path; an unknown stage is an error with a suggestion.
 */
export function setTarget(
  o: SetOverride,
  names: ReadonlySet<string>,
  diags: Diagnostic[],
): { stage: string; path: string[] } | undefined {
  for (let k = o.segments.length - 1; k >= 1; k--) {
    const stage = o.segments.slice(0, k).join('.');
    if (names.has(stage)) return { stage, path: o.segments.slice(k) };
  }
  const first = o.segments[0] ?? '';
  const pos = { ...o.keyPos, col: 1, length: first.length };
  diags.push(error(`--set: unknown stage "${first}"`, pos, keyPath('stages', first), didYouMean(first, names)));
  return undefined;
}
