/**
 * `tailor exp apply NAME`: write an experiment's `--set` overrides into the pipeline YAML so a
 * plain `tailor run` gives the same run. A value that is already in the file is replaced in place
 * at its node's source range (the yaml Document API gives every node's range), so comments,
 * quoting, flow maps and blank lines around it stay byte for byte; only a key the file does not
 * have yet is added through the Document (setIn), which keeps comments and layout elsewhere.
 */
import type { Diagnostic } from '../pipeline/types.js';
import { yaml } from '../pipeline/lazy-yaml.js';
import { parseSets, stageBodyPath } from '../pipeline/set-overrides.js';
import { canonicalJson } from '../run/canonical-json.js';
import { err, ok, type Result } from '../result.js';

export interface AppliedChange {
  /** `stages.train-head.params.dropout`, `vars.size`. */
  path: string;
  /** The source text it had (undefined: the key was added). */
  from?: string;
  to: unknown;
}

/**
 * Where `S.K=V` goes in the file: `vars...`, `stages.S.params...` (longest stage prefix in the
 * file), or a stage key such as `stages.S.shards`.
 */
function targetPath(segments: string[], stageNames: ReadonlySet<string>): Result<string[], string> {
  if (segments[0] === 'vars') return ok(segments);
  let cut = 1;
  for (let k = segments.length - 1; k >= 1; k--)
    if (stageNames.has(segments.slice(0, k).join('.'))) {
      cut = k;
      break;
    }
  const stage = segments.slice(0, cut).join('.');
  if (stage.includes('@'))
    return err(
      `"${segments.join('.')}" sets one member of a foreach group; the YAML has one params block for the whole group, so write it there by hand`,
    );
  return ok(['stages', stage, ...stageBodyPath(segments.slice(cut))]);
}

/** The shortest YAML text that reads back as `value` (plain when it can be, else JSON, which is YAML). */
function valueText(value: unknown): string {
  const { parse } = yaml();
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  const plain = String(value);
  try {
    if (canonicalJson(parse(plain)) === canonicalJson(value) && !plain.includes('#') && !plain.includes(': '))
      return plain;
  } catch {
    // not plain YAML: quote it
  }
  return JSON.stringify(value);
}

/** Rewrite `source` with the overrides; changes lists what moved (an equal value is not a change). */
export function applySets(
  source: string,
  sets: readonly string[],
): Result<{ text: string; changes: AppliedChange[] }, string> {
  const { parseDocument, isScalar, isMap } = yaml();
  const diags: Diagnostic[] = [];
  const overrides = parseSets(sets, diags);
  if (diags[0]) return err(diags[0].message);
  const doc = parseDocument(source, { keepSourceTokens: false });
  if (doc.errors[0]) return err(`the pipeline does not parse: ${doc.errors[0].message.split('\n')[0]}`);
  const stagesNode = doc.get('stages', true);
  const stageNames = new Set<string>(
    isMap(stagesNode) ? stagesNode.items.map((i) => String(isScalar(i.key) ? i.key.value : i.key)) : [],
  );

  const splices: Array<{ start: number; end: number; text: string }> = [];
  const inserts: Array<{ path: string[]; value: unknown }> = [];
  const changes: AppliedChange[] = [];
  for (const o of overrides) {
    const path = targetPath(o.segments, stageNames);
    if (!path.ok) return path;
    const node = doc.getIn(path.value, true);
    if (node === undefined) {
      inserts.push({ path: path.value, value: o.value });
      changes.push({ path: path.value.join('.'), to: o.value });
      continue;
    }
    const current: unknown = isScalar(node) ? node.value : (node as { toJSON(): unknown }).toJSON();
    if (canonicalJson(current) === canonicalJson(o.value)) continue;
    const range = (node as { range?: [number, number, number] }).range;
    if (!range) return err(`cannot find ${path.value.join('.')} in the file's text`);
    const from = source.slice(range[0], range[1]);
    splices.push({ start: range[0], end: range[1], text: valueText(o.value) });
    changes.push({ path: path.value.join('.'), from, to: o.value });
  }

  let text = source;
  for (const s of splices.sort((a, b) => b.start - a.start)) text = text.slice(0, s.start) + s.text + text.slice(s.end);
  if (inserts.length > 0) {
    const edited = parseDocument(text);
    for (const i of inserts) edited.setIn(i.path, edited.createNode(i.value, { flow: true }));
    text = edited.toString({ lineWidth: 0 });
  }
  return ok({ text, changes });
}
