/**
 * Tree manifests: the list of folders, files (content hash, size, exec bit) and symlinks (target)
 * that re-creates one output folder, plus the tree hash it must produce.
 *
 * The tree hash is recomputed from the manifest itself with the same Merkle rule as
 * src/cache/file-hasher.ts (per folder, entries sorted by name: `d <tree hash> <name>`,
 * `f <hash> <name>`, `l <hash of target> <name>`, joined by newlines; names as JSON strings), so a
 * manifest that does not describe its tree is rejected before a byte is downloaded, and a restored
 * folder whose blobs each check out is bound to get the recorded tree hash. Paths from a remote are
 * untrusted: every segment is checked so none can climb out of the folder being restored.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes } from '../cache/hash.js';
import type { FileHasher } from '../cache/file-hasher.js';
import { isTreeHash } from '../cache/content-store.js';
import { err, ok, type Result } from '../result.js';

export const MANIFEST_FORMAT = 'tailor-tree-v1';

export type ManifestEntry =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; hash: string; size: number; exec: boolean }
  | { kind: 'link'; path: string; target: string };

export interface TreeManifest {
  treeHash: string;
  /** Regular files and their bytes (as file-hasher counts them). */
  files: number;
  bytes: number;
  /** Pre-order, names sorted: a parent folder always comes before what it holds. */
  entries: ManifestEntry[];
}

/** Describe a committed output folder; file hashes come through the hasher's stat cache. */
export async function buildManifest(dir: string, hasher: FileHasher): Promise<TreeManifest> {
  const entries: ManifestEntry[] = [];
  let files = 0;
  let bytes = 0;
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names = readdirSync(abs, { withFileTypes: true }).sort((a, b) => compareNames(a.name, b.name));
    for (const e of names) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const full = join(abs, e.name);
      if (e.isDirectory()) {
        entries.push({ kind: 'dir', path });
        await walk(full, path);
      } else if (e.isFile()) {
        const h = await hasher.hashPath(full);
        if (h.kind !== 'file') throw new Error(`${full}: vanished while it was being described`);
        const exec = (lstatSync(full).mode & 0o100) !== 0;
        entries.push({ kind: 'file', path, hash: h.hash, size: h.bytes, exec });
        files++;
        bytes += h.bytes;
      } else if (e.isSymbolicLink()) {
        entries.push({ kind: 'link', path, target: readlinkSync(full) });
      }
    }
  };
  await walk(dir, '');
  return { treeHash: treeHashOf(entries), files, bytes, entries };
}

/** The tree hash a list of entries describes (file-hasher's Merkle rule). */
export function treeHashOf(entries: readonly ManifestEntry[]): string {
  interface Folder {
    lines: Array<{ name: string; line: string | Folder }>;
  }
  const root: Folder = { lines: [] };
  const folders = new Map<string, Folder>([['', root]]);
  for (const e of entries) {
    const cut = e.path.lastIndexOf('/');
    const parent = folders.get(cut < 0 ? '' : e.path.slice(0, cut));
    if (!parent) throw new Error(`internal error: ${e.path} comes before its folder`);
    const name = e.path.slice(cut + 1);
    if (e.kind === 'dir') {
      const sub: Folder = { lines: [] };
      folders.set(e.path, sub);
      parent.lines.push({ name, line: sub });
    } else {
      const hash = e.kind === 'file' ? e.hash : hashBytes(e.target);
      parent.lines.push({ name, line: `${e.kind === 'file' ? 'f' : 'l'} ${hash} ${JSON.stringify(name)}` });
    }
  }
  const hashFolder = (f: Folder): string =>
    hashBytes(
      [...f.lines]
        .sort((a, b) => compareNames(a.name, b.name))
        .map((l) => (typeof l.line === 'string' ? l.line : `d ${hashFolder(l.line)} ${JSON.stringify(l.name)}`))
        .join('\n'),
    );
  return hashFolder(root);
}

/** The manifest's bytes on the remote: compact, deterministic JSON (same tree, same bytes). */
export function serializeManifest(m: TreeManifest): Buffer {
  const entries = m.entries.map((e) =>
    e.kind === 'dir'
      ? ['d', e.path]
      : e.kind === 'file'
        ? ['f', e.path, e.hash, e.size, e.exec ? 1 : 0]
        : ['l', e.path, e.target],
  );
  return Buffer.from(
    JSON.stringify({ format: MANIFEST_FORMAT, treeHash: m.treeHash, files: m.files, bytes: m.bytes, entries }),
  );
}

/** Parse and check a manifest fetched for `treeHash`; any doubt is an error (a cache miss). */
export function parseManifest(bytes: Buffer, treeHash: string): Result<TreeManifest, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return err('manifest is not valid JSON (truncated or corrupt)');
  }
  const m = raw as { format?: unknown; treeHash?: unknown; files?: unknown; bytes?: unknown; entries?: unknown };
  if (m.format !== MANIFEST_FORMAT) return err(`manifest format ${JSON.stringify(m.format)} is not ${MANIFEST_FORMAT}`);
  if (m.treeHash !== treeHash) return err('manifest names another tree');
  if (!Array.isArray(m.entries)) return err('manifest has no entries');
  const entries: ManifestEntry[] = [];
  const dirs = new Set<string>(['']);
  const seen = new Set<string>();
  let files = 0;
  let total = 0;
  for (const item of m.entries as unknown[]) {
    const e = parseEntry(item);
    if (!e.ok) return e;
    const { path } = e.value;
    const cut = path.lastIndexOf('/');
    if (seen.has(path)) return err(`manifest lists ${path} twice`);
    if (!dirs.has(cut < 0 ? '' : path.slice(0, cut))) return err(`manifest lists ${path} before its folder`);
    seen.add(path);
    if (e.value.kind === 'dir') dirs.add(path);
    if (e.value.kind === 'file') {
      files++;
      total += e.value.size;
    }
    entries.push(e.value);
  }
  if (m.files !== files || m.bytes !== total) return err('manifest totals do not match its entries');
  if (treeHashOf(entries) !== treeHash) return err('manifest does not hash to its tree');
  return ok({ treeHash, files, bytes: total, entries });
}

function parseEntry(item: unknown): Result<ManifestEntry, string> {
  if (!Array.isArray(item) || typeof item[1] !== 'string' || !isSafePath(item[1]))
    return err(`bad manifest entry ${JSON.stringify(item)?.slice(0, 200)}`);
  const [kind, path, a, b, c] = item as [unknown, string, unknown, unknown, unknown];
  if (kind === 'd' && item.length === 2) return ok({ kind: 'dir', path });
  if (
    kind === 'f' &&
    typeof a === 'string' &&
    isTreeHash(a) &&
    Number.isSafeInteger(b) &&
    (b as number) >= 0 &&
    (c === 0 || c === 1)
  )
    return ok({ kind: 'file', path, hash: a, size: b as number, exec: c === 1 });
  if (kind === 'l' && typeof a === 'string' && a.length > 0 && !a.includes('\0'))
    return ok({ kind: 'link', path, target: a });
  return err(`bad manifest entry ${JSON.stringify(item).slice(0, 200)}`);
}

/** A relative path whose segments are plain names: nothing can point outside the folder. */
function isSafePath(path: string): boolean {
  return path.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\0'));
}

/** file-hasher's name order (UTF-16 code units, as `<` compares strings). */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
