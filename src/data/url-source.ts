/**
 * Turning an image URL from an iMaterialist file into something to read:
 * - `http://…`, `https://…`: downloaded;
 * - `file:///abs/path.jpg`: a local file;
 * - `file:rel/path.jpg` (no `//`): a file relative to the folder of the JSON file that lists it,
 *   so a dataset folder (like mosaic's output) can move without rewriting its URLs. Such a path
 *   may not climb out of that folder.
 * Anything else is a failure with a reason, never an exception.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export type UrlSource =
  { kind: 'http'; url: string } | { kind: 'file'; path: string } | { kind: 'bad'; reason: string };

/** Classify `url`; `jsonDir` is the folder of the JSON file holding it. */
export function parseImageUrl(url: string, jsonDir: string): UrlSource {
  const trimmed = url.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return { kind: 'http', url: new URL(trimmed).href };
    } catch {
      return { kind: 'bad', reason: 'bad url' };
    }
  }
  if (/^file:\/\//i.test(trimmed)) {
    try {
      return { kind: 'file', path: fileURLToPath(trimmed) };
    } catch {
      return { kind: 'bad', reason: 'bad url' };
    }
  }
  if (/^file:/i.test(trimmed)) {
    let rel: string;
    try {
      rel = decodeURIComponent(trimmed.slice('file:'.length));
    } catch {
      return { kind: 'bad', reason: 'bad url' };
    }
    if (rel === '' || rel.includes('\0') || isAbsolute(rel)) return { kind: 'bad', reason: 'bad url' };
    const path = resolve(jsonDir, rel);
    const back = relative(jsonDir, path);
    if (back === '' || back === '..' || back.startsWith(`..${sep}`) || isAbsolute(back)) {
      return { kind: 'bad', reason: 'file url outside the dataset folder' };
    }
    return { kind: 'file', path };
  }
  return { kind: 'bad', reason: 'unsupported url scheme' };
}
