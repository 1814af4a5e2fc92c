/**
 * A positioned value tree: plain YAML data where every node and map key remembers where it was
 * written. Extends-merging, templating and validation all work on this tree so any error found
 * late (a bad type after templating, an unknown param) still points at the right file and column,
 * even when the value came from a parent pipeline or a `--set` argument.
 */
import { readFileSync } from 'node:fs';
import type { SourcePos } from './types.js';

export type Scalar = string | number | boolean | null;

export interface PScalar {
  kind: 'scalar';
  value: Scalar;
  pos: SourcePos;
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
  // JSON has no Infinity or NaN (`1e400` reads as Infinity): say what it is.
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? 'NaN' : `a number too large to represent (${value})`;
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

/** How many lines after its start a multi-line string scalar is searched for an error's reference. */
const MAX_SCALAR_LINES = 50;

/**
 * Position of `needle` (a `${...}` reference) inside a string scalar, for an error about one
 * reference in a longer string. The source is read again only now, when there is an error (so
 * trees, and their cache, carry no source text); falls back to the scalar's own position when the
 * source does not hold the text literally (escapes in a double-quoted string).
 */
export function posWithin(node: PScalar, needle: string): SourcePos {
  const { pos } = node;
  let lines: string[];
  try {
    lines =
      pos.text !== undefined
        ? [pos.text]
        : readFileSync(pos.file, 'utf8')
            .split(/\r?\n/)
            .slice(pos.line - 1, pos.line - 1 + MAX_SCALAR_LINES);
  } catch {
    return pos;
  }
  for (let i = 0; i < lines.length; i++) {
    const at = (lines[i] ?? '').indexOf(needle, i === 0 ? pos.col - 1 : 0);
    if (at >= 0) return { ...pos, line: pos.line + i, col: at + 1, length: needle.length };
  }
  return pos;
}
