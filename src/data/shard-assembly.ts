/**
 * Assembling the outputs of a sharded stage (`pad#1`..`pad#N`) into the one output the unsharded
 * stage would have written, so downstream keys (made of its content) are the same either way.
 *
 *   *.jsonl          lines of every shard; lines with an imageId in the unsharded order: the ranks
 *                    the shards of a built-in stage wrote (`_shard/order.jsonl`, src/stage-kit/shard.ts),
 *                    else the order of the input manifest (`orderBy`: the upstream a cmd stage's
 *                    shards read); the rest in shard order after them
 *   *.csv            one header (all shards must agree), then every shard's rows, ordered like the
 *                    input manifest when the first column is imageId
 *   metrics.json     counts summed; settings (size, quality) and anything not a number taken from the
 *                    first shard; `seconds` the longest shard's; shares and rates recomputed from
 *                    the sums where their parts are there (metrics.json is not in the content hash)
 *   _shard/          read for the order, never copied
 *   features         precompute's shards: src/ml/feature-assembly.ts (binary rows are merged by rank)
 *   any other file   hard-linked (copied across filesystems); two shards writing the same path
 *                    must have written the same bytes
 */
import { copyFile, link, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { hashFile } from '../cache/hash.js';
import { SHARD_DIR, SHARD_ORDER_FILE } from '../stage-kit/shard.js';

export interface AssembleOptions {
  /** A folder whose manifest.jsonl gives the order of the assembled rows (by imageId). */
  orderBy?: string;
  /** Paths (relative to a shard) another assembly wrote already (precompute's features). */
  skip?: ReadonlySet<string>;
}

/** Files under `dir` (relative paths); folders are added to `dirs`, so empty ones are kept too. */
async function filesUnder(dir: string, dirs: Set<string>, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      dirs.add(relative(base, p));
      out.push(...(await filesUnder(p, dirs, base)));
    } else if (e.isFile()) out.push(relative(base, p));
  }
  return out;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

export async function assembleShards(parts: string[], out: string, opts: AssembleOptions = {}): Promise<void> {
  const byPath = new Map<string, string[]>();
  const ranks: string[] = [];
  const shardOrder = join(SHARD_DIR, SHARD_ORDER_FILE);
  const dirs = new Set<string>();
  for (const part of parts) {
    for (const rel of await filesUnder(part, dirs)) {
      if (rel === shardOrder) ranks.push(join(part, rel));
      else if (!rel.startsWith(SHARD_DIR + '/') && !opts.skip?.has(rel))
        byPath.set(rel, [...(byPath.get(rel) ?? []), join(part, rel)]);
    }
  }
  // Folders no shard put a file in (pad's images/ when every image failed) are in the unsharded output too.
  for (const d of dirs)
    if (d !== SHARD_DIR && !d.startsWith(SHARD_DIR + '/')) await mkdir(join(out, d), { recursive: true });
  // Read only when some file is ordered by it (precompute's rows are ordered by its own assembly).
  const ordersRows = [...byPath.keys()].some((rel) => rel.endsWith('.jsonl') || rel.endsWith('.csv'));
  const order = !ordersRows
    ? undefined
    : ranks.length
      ? await rankOrder(ranks)
      : opts.orderBy
        ? await inputOrder(opts.orderBy)
        : undefined;
  for (const [rel, sources] of [...byPath].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const dest = join(out, rel);
    await mkdir(dirname(dest), { recursive: true });
    if (rel === 'metrics.json') await writeFile(dest, await mergeMetrics(sources));
    else if (rel.endsWith('.jsonl')) await writeFile(dest, await mergeJsonl(sources, order));
    else if (rel.endsWith('.csv')) await writeFile(dest, await mergeCsv(rel, sources, order));
    else await placeOnce(rel, sources, dest);
  }
}

/** Position in the input manifest by `set\0imageId` (the same id may be in two sets) and by imageId. */
async function inputOrder(dir: string): Promise<Map<string, number>> {
  const order = new Map<string, number>();
  lines(await readFile(join(dir, 'manifest.jsonl'), 'utf8')).forEach((l, i) => placeKey(order, jsonlKey(l), i));
  return order;
}

/** The same map from the ranks the shards of a built-in stage wrote (`{set, imageId, rank}` lines). */
async function rankOrder(files: string[]): Promise<Map<string, number>> {
  const order = new Map<string, number>();
  for (const f of files) {
    for (const l of lines(await readFile(f, 'utf8'))) {
      const { rank } = JSON.parse(l) as { rank: number };
      placeKey(order, jsonlKey(l), rank);
    }
  }
  return order;
}

function placeKey(order: Map<string, number>, key: string | undefined, i: number): void {
  if (key === undefined) return;
  if (!order.has(key) || order.get(key)! > i) order.set(key, i);
  const id = key.slice(key.indexOf('\0') + 1);
  if (!order.has(id) || order.get(id)! > i) order.set(id, i);
}

function jsonlKey(line: string): string | undefined {
  const v = JSON.parse(line) as { imageId?: unknown; set?: unknown };
  return v.imageId === undefined ? undefined : `${v.set === undefined ? '' : String(v.set)}\0${String(v.imageId)}`;
}

/** Rows in input order where their id is known (a stable sort keeps shard order otherwise). */
function ordered(rows: string[], idOf: (row: string) => string | undefined, order?: Map<string, number>): string[] {
  if (!order) return rows;
  const rank = (r: string) => {
    const key = idOf(r) ?? '';
    return order.get(key) ?? order.get(key.slice(key.indexOf('\0') + 1)) ?? Number.MAX_SAFE_INTEGER;
  };
  return [...rows].sort((a, b) => rank(a) - rank(b));
}

async function mergeJsonl(sources: string[], order?: Map<string, number>): Promise<string> {
  const all = (await Promise.all(sources.map((s) => readFile(s, 'utf8')))).flatMap(lines);
  return ordered(all, jsonlKey, order)
    .map((l) => l + '\n')
    .join('');
}

async function mergeCsv(rel: string, sources: string[], order?: Map<string, number>): Promise<string> {
  const texts = await Promise.all(sources.map((s) => readFile(s, 'utf8')));
  const headers = texts.map((t) => t.split('\n')[0] ?? '');
  if (new Set(headers).size > 1)
    throw new Error(`shards wrote ${rel} with different headers: ${[...new Set(headers)].join(' | ')}`);
  const rows = texts.flatMap((t) => lines(t).slice(1));
  const byId = /^"?imageId"?(,|$)/.test(headers[0]!) ? order : undefined;
  return [headers[0], ...ordered(rows, (r) => r.split(',')[0]?.replace(/^"|"$/g, ''), byId)].join('\n') + '\n';
}

/** Numbers that are settings, the same in every shard: taken from the first. */
const SETTINGS = new Set(['size', 'quality', 'concurrency', 'dim']);

async function mergeMetrics(sources: string[]): Promise<string> {
  const all = await Promise.all(sources.map(async (s) => JSON.parse(await readFile(s, 'utf8')) as unknown));
  const merged = all.reduce((a, b) => sumInto(a, b));
  if (merged && typeof merged === 'object' && !Array.isArray(merged)) recomputeRates(merged as Record<string, unknown>);
  return JSON.stringify(merged, null, 2) + '\n';
}

function sumInto(a: unknown, b: unknown, key = ''): unknown {
  if (typeof a === 'number' && typeof b === 'number') {
    if (SETTINGS.has(key)) return a;
    if (key === 'seconds') return Math.max(a, b);
    return a + b;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? sumInto(out[k], v, k) : v;
    return out;
  }
  return a;
}

/** Shares and rates of fetch and pad, from the summed counts (a sum of shares means nothing). */
function recomputeRates(m: Record<string, unknown>): void {
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const images = num(m.images) ?? num((m.images as Record<string, unknown> | undefined)?.total);
  const failed = num(m.failed);
  const seconds = num(m.seconds);
  if ('failure_share' in m && images !== undefined && failed !== undefined)
    m.failure_share = images ? failed / images : 0;
  if ('images_per_second' in m && images !== undefined && seconds !== undefined)
    m.images_per_second = images / Math.max(seconds, 1e-9);
}

async function placeOnce(rel: string, sources: string[], dest: string): Promise<void> {
  if (sources.length > 1) {
    const hashes = new Set(await Promise.all(sources.map((s) => hashFile(s))));
    if (hashes.size > 1) throw new Error(`two shards wrote ${rel} with different bytes`);
  }
  await link(sources[0]!, dest).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EXDEV' && e.code !== 'EPERM') throw e;
    await copyFile(sources[0]!, dest);
  });
}
