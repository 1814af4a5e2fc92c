/**
 * A cache of parsed pipeline files. The `yaml` package needs ~60-200 ms (warm-cold) to parse a
 * 1,000-stage pipeline, more than `tailor status` may spend in total; the positioned tree it
 * yields, stored compactly, reads back in a few ms. One entry per pipeline file (overwritten when
 * the file changes), checked against the file's content hash, written atomically (temp + rename);
 * it is only a cache: any problem reading or writing it falls back to parsing.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { err, type Result } from '../result.js';
import { displayFile, error } from './diagnostics.js';
import type { PEntry, PNode, Scalar } from './tree.js';
import type { Diagnostic, SourcePos } from './types.js';
import { parseYamlTree } from './yaml-tree.js';

/** Bump when the tree shape or yaml-tree.ts's conversion changes, so old entries are ignored. */
const FORMAT = 'tailor-tree-3';

/** Compact JSON of a tree: a kind tag, then [line, col, length] flat, then the content. */
type EncScalar = [0, Scalar, number, number, number];
type EncSeq = [1, number, number, number, Enc[]];
type EncEntry = [string, number, number, number, Enc];
type EncMap = [2, number, number, number, EncEntry[]];
type Enc = EncScalar | EncSeq | EncMap;
type EPos = [number, number, number];

class NotCacheable extends Error {}

function encPos(p: SourcePos): EPos {
  return [p.line, p.col, p.length ?? 1];
}

function encode(n: PNode): Enc {
  switch (n.kind) {
    case 'scalar':
      // JSON cannot hold .nan / .inf: such a file is simply not cached.
      if (typeof n.value === 'number' && !Number.isFinite(n.value)) throw new NotCacheable();
      return [0, n.value, ...encPos(n.pos)];
    case 'seq':
      return [1, ...encPos(n.pos), n.items.map(encode)];
    case 'map':
      return [
        2,
        ...encPos(n.pos),
        [...n.entries.values()].map((e): EncEntry => [e.key, ...encPos(e.keyPos), encode(e.value)]),
      ];
  }
}

function decode(e: Enc, file: string): PNode {
  const pos = (line: number, col: number, length: number): SourcePos => ({ file, line, col, length });
  switch (e[0]) {
    case 0:
      return { kind: 'scalar', value: e[1], pos: pos(e[2], e[3], e[4]) };
    case 1:
      return { kind: 'seq', pos: pos(e[1], e[2], e[3]), items: e[4].map((x: Enc) => decode(x, file)) };
    case 2: {
      const entries = new Map<string, PEntry>();
      for (const [key, l, c, len, v] of e[4]) entries.set(key, { key, keyPos: pos(l, c, len), value: decode(v, file) });
      return { kind: 'map', pos: pos(e[1], e[2], e[3]), entries };
    }
    default:
      throw new Error('internal error: bad cached tree');
  }
}

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

/**
 * Parse `text` (the content of `file`) into a positioned tree, through the cache in `dir` when
 * given. Syntax errors are never cached.
 */
export function parseYamlTreeCached(file: string, text: string, dir: string | undefined): Result<PNode, Diagnostic[]> {
  if (!dir) return parseYamlTree(file, text);
  const entry = join(dir, `${sha1(`${FORMAT}\0${file}`)}.json`);
  const hash = sha1(`${FORMAT}\0${text}`);
  try {
    const stored = readFileSync(entry, 'utf8');
    const nl = stored.indexOf('\n');
    if (stored.slice(0, nl) === hash) return { ok: true, value: decode(JSON.parse(stored.slice(nl + 1)) as Enc, file) };
  } catch {
    // No entry yet, or unreadable: parse.
  }
  const parsed = parseYamlTree(file, text);
  if (!parsed.ok) return parsed;
  try {
    const body = `${hash}\n${JSON.stringify(encode(parsed.value))}`;
    mkdirSync(dir, { recursive: true });
    const tmp = `${entry}.${process.pid}.tmp`;
    writeFileSync(tmp, body);
    renameSync(tmp, entry);
  } catch {
    // A read-only or full cache folder only costs speed.
  }
  return parsed;
}

/**
 * Read and parse a pipeline file (through the cache in `cacheDir` when given). A file that cannot
 * be read is an error at `at` (the `extends` that named it) with key `key`.
 */
export function readPipelineTree(
  file: string,
  cacheDir: string | undefined,
  at?: SourcePos,
  key = '',
): Result<PNode, Diagnostic[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EISDIR'
          ? 'is a folder, not a file'
          : `cannot read (${code ?? String(e)})`;
    return err([error(`${displayFile(file)}: ${what}`, at, key)]);
  }
  return parseYamlTreeCached(file, text, cacheDir);
}
