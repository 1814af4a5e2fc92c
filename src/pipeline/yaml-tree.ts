/** Parse a YAML file into a positioned tree (tree.ts), with syntax errors as Diagnostics. */
import type { Document, LineCounter, Node as YamlNode } from 'yaml';
import { err, ok, type Result } from '../result.js';
import { error, keyPath } from './diagnostics.js';
import { yaml } from './lazy-yaml.js';
import type { Diagnostic, SourcePos } from './types.js';
import type { PEntry, PNode, Scalar } from './tree.js';

interface Ctx {
  file: string;
  text: string;
  lc: LineCounter;
  doc: Document;
  diags: Diagnostic[];
  /** Aliases being expanded, to stop `a: &x [*x]`-style recursion. */
  expanding: Set<YamlNode>;
  /** Nodes made by expanding aliases so far, counting every use (bounded: MAX_ALIAS_NODES). */
  aliasNodes: number;
  /** Nodes converted so far (each alias use counts its target's size). */
  made: number;
  /** An alias target converted once, with its size, shared by every later use (trees are immutable). */
  targets: Map<YamlNode, { node: PNode; size: number }>;
  /** Set once the bound is hit: conversion stops making nodes. */
  bombed: boolean;
}

/**
 * The most nodes alias expansion may make in one file. Seven nested aliases in 305 bytes expand to
 * ~10^7 nodes (15 s and 1 GB before this bound); real pipelines reuse an anchor a few hundred
 * times at most.
 */
export const MAX_ALIAS_NODES = 100_000;

function posOf(ctx: Ctx, start: number, end: number): SourcePos {
  const { line, col } = ctx.lc.linePos(start);
  // Underline to the end of the range, but never past the end of its first line.
  const nl = ctx.text.indexOf('\n', start);
  const lineEnd = nl < 0 ? ctx.text.length : nl;
  return { file: ctx.file, line, col, length: Math.max(1, Math.min(end, lineEnd) - start) };
}

function rangeOf(node: { range?: [number, number, number] | null }): [number, number] {
  return node.range ? [node.range[0], node.range[1]] : [0, 0];
}

function convert(ctx: Ctx, node: unknown, path: string[], at: SourcePos): PNode {
  const { isAlias, isMap, isScalar, isSeq } = yaml();
  if (ctx.bombed) return { kind: 'scalar', value: null, pos: at };
  ctx.made++;
  if (node === null || node === undefined) return { kind: 'scalar', value: null, pos: at };
  if (isAlias(node)) {
    const target = node.resolve(ctx.doc);
    const [s, e] = rangeOf(node);
    if (!target || ctx.expanding.has(target)) {
      ctx.diags.push(
        error(
          target ? `alias *${node.source} refers to itself` : `unknown alias *${node.source}`,
          posOf(ctx, s, e),
          keyPath(...path),
        ),
      );
      return { kind: 'scalar', value: null, pos: posOf(ctx, s, e) };
    }
    const known = ctx.targets.get(target);
    let value: PNode;
    let size: number;
    if (known) {
      ({ node: value, size } = known);
      ctx.made += size;
    } else {
      const before = ctx.made;
      ctx.expanding.add(target);
      value = convert(ctx, target, path, posOf(ctx, s, e));
      ctx.expanding.delete(target);
      size = ctx.made - before;
      ctx.targets.set(target, { node: value, size });
    }
    ctx.aliasNodes += size;
    if (ctx.aliasNodes > MAX_ALIAS_NODES && !ctx.bombed) {
      ctx.bombed = true;
      ctx.diags.push(
        error(
          `YAML aliases expand to more than ${MAX_ALIAS_NODES.toLocaleString('en-US')} nodes (aliases of aliases?); tailor stops here`,
          posOf(ctx, s, e),
          keyPath(...path),
        ),
      );
    }
    return value;
  }
  if (isScalar(node)) {
    const [s, e] = rangeOf(node);
    // A `key:` with no value has an empty range: point at the key instead.
    const pos = e > s ? posOf(ctx, s, e) : at;
    const v = node.value;
    const value: Scalar =
      v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
    return { kind: 'scalar', value, pos };
  }
  if (isSeq(node)) {
    const [s, e] = rangeOf(node);
    return {
      kind: 'seq',
      items: node.items.map((item, i) => convert(ctx, item, [...path, String(i)], at)),
      pos: posOf(ctx, s, e),
    };
  }
  if (isMap(node)) {
    const [s, e] = rangeOf(node);
    const entries = new Map<string, PEntry>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const [ks, ke] = keyNode && 'range' in keyNode ? rangeOf(keyNode) : [s, s];
      const keyPos = posOf(ctx, ks, ke);
      if (keyNode !== null && !isScalar(keyNode)) {
        ctx.diags.push(error('a key must be a plain name, not a list or map', keyPos, keyPath(...path)));
        continue;
      }
      const key = keyNode === null ? '' : String(keyNode.value);
      const first = entries.get(key);
      if (first) {
        const where = `${first.keyPos.line}:${first.keyPos.col}`;
        ctx.diags.push(
          error(
            `duplicate key "${key}" in ${path.length ? keyPath(...path) : 'the top level'} (first defined at line ${first.keyPos.line})`,
            keyPos,
            keyPath(...path, key),
            undefined,
            [{ message: `first "${key}" at ${where}`, pos: first.keyPos }],
          ),
        );
        continue;
      }
      entries.set(key, { key, keyPos, value: convert(ctx, pair.value, [...path, key], keyPos) });
    }
    return { kind: 'map', entries, pos: posOf(ctx, s, e) };
  }
  const [s, e] = rangeOf(node as { range?: [number, number, number] });
  ctx.diags.push(error('unsupported YAML node', posOf(ctx, s, e), keyPath(...path)));
  return { kind: 'scalar', value: null, pos: posOf(ctx, s, e) };
}

/**
 * The usual cause of a syntax error on a line like `needs: [p@${item}]`: inside [ ] or { } the
 * braces of an unquoted `${...}` are YAML syntax.
 */
function flowTemplateHint(text: string, offset: number): string | undefined {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const end = text.indexOf('\n', offset);
  const line = text.slice(start, end < 0 ? text.length : end);
  const ref = /[[{][^'"]*?([^\s[\]{},'"]*\$\{[^}]*\}[^\s\]},'"]*)/.exec(line);
  return ref ? `inside [ ] or { }, quote a string that holds \${...}: "${ref[1]}"` : undefined;
}

/**
 * The offset of the `[` or `{` left open before `offset`, if any: the parser reports a missing `]`
 * where it gave up (the next line, or the end of the file), but the fix goes where the list began.
 * Quotes and comments are skipped; a bracket counts only where a flow collection can start (after
 * `: `, `- `, `,`, another bracket, or at the start of a line), so `key: a[0]` is not one.
 */
export function unclosedFlowOpener(text: string, offset: number): number | undefined {
  const open: number[] = [];
  let prev = '\n'; // the last character that was not a space
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"' || c === "'") {
      for (i++; i < text.length && text[i] !== c; i++) if (c === '"' && text[i] === '\\') i++;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] as string))) {
      while (i < text.length && text[i] !== '\n') i++;
      prev = '\n';
      continue;
    } else if ((c === '[' || c === '{') && (open.length > 0 || /[\n:,[{-]/.test(prev))) open.push(i);
    else if ((c === ']' || c === '}') && open.length > 0) open.pop();
    if (c !== ' ' && c !== '\t') prev = c;
  }
  return open.at(-1);
}

/** Parse YAML source text; `file` is used for positions only. */
export function parseYamlTree(file: string, text: string): Result<PNode, Diagnostic[]> {
  const { LineCounter, parseDocument } = yaml();
  const lc = new LineCounter();
  // uniqueKeys off: duplicates are reported by convert() with a key path and both positions.
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, prettyErrors: false });
  const ctx: Ctx = {
    file,
    text,
    lc,
    doc,
    diags: [],
    expanding: new Set(),
    aliasNodes: 0,
    made: 0,
    targets: new Map(),
    bombed: false,
  };
  const lines = new Set<number>();
  for (const e of doc.errors) {
    const [s, end] = e.pos;
    const opener = /end with a [\]}]/.test(e.message) ? unclosedFlowOpener(text, s) : undefined;
    if (opener !== undefined) {
      const pos = posOf(ctx, opener, opener + 1);
      if (lines.has(pos.line)) continue;
      lines.add(pos.line);
      const closer = text[opener] === '[' ? ']' : '}';
      ctx.diags.push(error(`YAML syntax: this "${text[opener]}" is never closed (a "${closer}" is missing)`, pos, ''));
      continue;
    }
    const pos = posOf(ctx, s, Math.max(end, s + 1));
    // One error per line: the parser's follow-on complaints about the same line add nothing.
    if (lines.has(pos.line)) continue;
    lines.add(pos.line);
    ctx.diags.push(error(`YAML syntax: ${e.message.split('\n')[0]}`, pos, '', flowTemplateHint(text, s)));
  }
  if (ctx.diags.length > 0) return err(ctx.diags);
  const root = convert(ctx, doc.contents, [], { file, line: 1, col: 1, length: 1 });
  return ctx.diags.length > 0 ? err(ctx.diags) : ok(root);
}
