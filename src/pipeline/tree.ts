/**
 * A positioned value tree: plain YAML data where every node and map key remembers where it was
 * written. Extends-merging, templating and validation all work on this tree so any error found
 * late (a bad type after templating, an unknown param) still points at the right file and column,
 * even when the value came from a parent pipeline or a `--set` argument.
 */
import type { SourcePos } from './types.js';

export type Scalar = string | number | boolean | null;

export interface PScalar {
  kind: 'scalar';
  value: Scalar;
  pos: SourcePos;
  /** Source text of a template string scalar (with quotes), to place errors inside it. */
  raw?: string;
}
export interface PSeq {
  kind: 'seq';
  items: PNode[];
  pos: SourcePos;
}
export interface PEntry {
  key: string;
  keyPos: SourcePos;
  value: PNode;
}
export interface PMap {
  kind: 'map';
  /** Insertion-ordered, so file order is kept. */
  entries: Map<string, PEntry>;
  pos: SourcePos;
}
export type PNode = PScalar | PSeq | PMap;

/** Build a tree from plain data, every node placed at `pos` (values from templates or `--set`). */
export function fromJS(value: unknown, pos: SourcePos): PNode {
  if (Array.isArray(value)) return { kind: 'seq', items: value.map((v) => fromJS(v, pos)), pos };
  if (value !== null && typeof value === 'object') {
    const entries = new Map<string, PEntry>();
    for (const [key, v] of Object.entries(value)) entries.set(key, { key, keyPos: pos, value: fromJS(v, pos) });
    return { kind: 'map', entries, pos };
  }
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return { kind: 'scalar', value, pos };
  }
  return { kind: 'scalar', value: String(value), pos };
}

/** Plain data of a tree. */
export function toJS(node: PNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toJS);
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [key, entry] of node.entries) out[key] = toJS(entry.value);
      return out;
    }
  }
}

/** The entry `key` of a map node, if the node is a map and has it. */
export function entry(node: PNode | undefined, key: string): PEntry | undefined {
  return node?.kind === 'map' ? node.entries.get(key) : undefined;
}

/** A map node with the same position and no entries. */
export function emptyMap(pos: SourcePos): PMap {
  return { kind: 'map', entries: new Map(), pos };
}

/** Human words for a plain value, for "expected X, got Y" messages: `a map`, `string "abc"`. */
export function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'object') return 'a map';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Human words for a node's value (see describe). */
export function kindName(node: PNode): string {
  if (node.kind === 'map') return 'a map';
  if (node.kind === 'seq') return 'a list';
  return describe(node.value);
}

/**
 * Walk a JSON-pointer path (ajv's `instancePath`) down the tree. Returns the node reached and the
 * position of the last map key on the way (where "unknown key"-style errors point).
 */
export function locate(root: PNode, pointer: string): { node: PNode; keyPos?: SourcePos; path: string[] } {
  let node = root;
  let keyPos: SourcePos | undefined;
  const path: string[] = [];
  if (pointer === '') return { node, path };
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node.kind === 'map') {
      const e = node.entries.get(seg);
      if (!e) break;
      keyPos = e.keyPos;
      node = e.value;
    } else if (node.kind === 'seq') {
      const item = node.items[Number(seg)];
      if (!item) break;
      keyPos = item.pos;
      node = item;
    } else {
      break;
    }
    path.push(seg);
  }
  return { node, keyPos, path };
}

/**
 * Position of `needle` inside a string scalar's source (for an error about one `${...}` in a longer
 * string); falls back to the scalar's own position when the source text does not contain it
 * literally (escapes in a double-quoted string).
 */
export function posWithin(node: PScalar, needle: string): SourcePos {
  const raw = node.raw;
  const at = raw === undefined ? -1 : raw.indexOf(needle);
  if (raw === undefined || at < 0) return node.pos;
  const before = raw.slice(0, at);
  const newlines = before.split('\n').length - 1;
  if (newlines === 0) return { ...node.pos, col: node.pos.col + at, length: needle.length };
  return { ...node.pos, line: node.pos.line + newlines, col: at - before.lastIndexOf('\n'), length: needle.length };
}
