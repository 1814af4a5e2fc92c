/**
 * Reading what a stage left in its output folder, tolerantly: a missing or malformed file is
 * `undefined`, never an exception, because a report must render whatever exists. Sizes are
 * bounded so one huge file cannot blow up the page or the process.
 */
import { lstat, readFile, readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { parseCsvTable, type CsvTable } from '../formats/csv.js';
import { readJsonl } from '../formats/jsonl.js';

/** Largest table or JSON file read whole (bigger ones are left out of the report). */
const MAX_TABLE_BYTES = 32 * 1024 * 1024;

const PICTURE_TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
};

/** Size of a regular file (not a link), or undefined. */
async function fileSize(path: string): Promise<number | undefined> {
  try {
    const st = await lstat(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** Text of a regular file up to `max` bytes, else undefined. */
export async function readSmallText(path: string, max = MAX_TABLE_BYTES): Promise<string | undefined> {
  const size = await fileSize(path);
  if (size === undefined || size > max) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parsed JSON of a file, or undefined when absent, too big or malformed. */
export async function readJson(path: string): Promise<unknown> {
  const text = await readSmallText(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A parsed CSV table, or undefined when absent, too big or malformed. */
export async function readCsv(path: string): Promise<CsvTable | undefined> {
  const text = await readSmallText(path);
  if (text === undefined) return undefined;
  try {
    return parseCsvTable(text);
  } catch {
    return undefined;
  }
}

/** Names of the regular files directly in `dir` (sorted), or [] when it cannot be read. */
export async function topLevelFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** The first top-level file of `dir` whose name matches. */
export async function findFile(dir: string, pattern: RegExp): Promise<string | undefined> {
  const name = (await topLevelFiles(dir)).find((f) => pattern.test(f));
  return name === undefined ? undefined : join(dir, name);
}

/** Whether a file name is a picture the report can embed. */
export function isPicture(name: string): boolean {
  return extname(name).toLowerCase() in PICTURE_TYPES;
}

/** Top-level pictures of a stage's output folder (absolute paths). */
export async function picturesIn(dir: string): Promise<string[]> {
  return (await topLevelFiles(dir)).filter(isPicture).map((f) => join(dir, f));
}

/**
 * Add to `shown` the top-level pictures of `dir` whose names match: pictures of what a report
 * chart already draws from the same data, which the stage gallery then leaves out.
 */
export async function markPictures(shown: Set<string>, dir: string, pattern: RegExp): Promise<void> {
  for (const p of await picturesIn(dir)) if (pattern.test(basename(p))) shown.add(p);
}

/**
 * A picture as a `data:` URI, or undefined when it is missing, not a picture or over `max` bytes.
 * SVG pictures are embedded as images (not inline markup) so any script or external reference in
 * a stage's SVG can neither run nor load.
 */
export async function pictureDataUri(path: string, max = 4 * 1024 * 1024): Promise<string | undefined> {
  const type = PICTURE_TYPES[extname(path).toLowerCase()];
  const size = await fileSize(path);
  if (!type || size === undefined || size > max) return undefined;
  try {
    return `data:${type};base64,${(await readFile(path)).toString('base64')}`;
  } catch {
    return undefined;
  }
}

/** Bytes of a file as a `data:` URI of the given type (thumbnails made in memory). */
export function bytesDataUri(bytes: Uint8Array, type: string): string {
  return `data:${type};base64,${Buffer.from(bytes).toString('base64')}`;
}

/**
 * Visit the JSON objects of a JSON-lines file one at a time with the one JSONL reader
 * (src/formats/jsonl.ts); `visit` returns false to stop early. Streams, so a million-line manifest
 * stays out of memory. A malformed line ends the file there: the report shows what came before
 * (it is a picture of the run, not a check of it).
 */
export async function eachJsonLine(
  path: string,
  visit: (value: Record<string, unknown>) => boolean | undefined | void, // eslint-disable-line @typescript-eslint/no-invalid-void-type -- visitors may return nothing
): Promise<boolean> {
  if ((await fileSize(path)) === undefined) return false;
  try {
    for await (const value of readJsonl(path)) {
      if (
        value &&
        typeof value === 'object' &&
        !Array.isArray(value) &&
        visit(value as Record<string, unknown>) === false
      )
        break;
    }
  } catch {
    // malformed line or unreadable file: keep what was read
  }
  return true;
}
