/**
 * The content hash of a stage output: its tree hash without the top-level `metrics.json`.
 *
 * `metrics.json` is the engine's metrics channel, and most stages put wall time and throughput
 * there, so a stage whose data files are byte-identical run after run still gets a new tree hash
 * each time. Downstream stage keys therefore take an upstream's content hash, not its tree hash
 * (an upstream rerun with the same data leaves its downstream fresh), and `tailor verify`
 * compares metrics on their own (with tolerances, timings left out) and the bytes of everything
 * else through this hash. Same manifest idea as the tree hash (one line
 * per entry, sorted by name, with a version line), so it is as strong as the tree hash.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes } from './hash.js';
import type { FileHasher } from './file-hasher.js';

/** The file the content hash leaves out. */
export const METRICS_FILE = 'metrics.json';

export async function contentHash(dir: string, hasher: FileHasher): Promise<string> {
  const entries = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== METRICS_FILE)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const lines = ['tailor-content-v1'];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isSymbolicLink()) lines.push(`l ${hashBytes(readlinkSync(path))} ${JSON.stringify(e.name)}`);
    else if (e.isDirectory()) lines.push(`d ${(await hasher.hashPath(path)).hash} ${JSON.stringify(e.name)}`);
    else if (e.isFile()) lines.push(`f ${(await hasher.hashPath(path)).hash} ${JSON.stringify(e.name)}`);
  }
  return hashBytes(lines.join('\n'));
}
