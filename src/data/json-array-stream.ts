/**
 * Streaming reader for the elements of chosen top-level arrays of a JSON object file, e.g. the
 * `images` and `annotations` arrays of an iMaterialist file with a million entries.
 *
 * Why hand-written: no streaming JSON parser ships with the project, and a full event parser is
 * slow in JS. This scanner only finds element boundaries (tracking strings, escapes and nesting
 * byte by byte) and hands each element's bytes to the native `JSON.parse`; values under keys that
 * are not wanted are skipped without being kept. Memory is one read chunk plus one element.
 */
import { createReadStream } from 'node:fs';

/** One element of a wanted top-level array. */
export interface ArrayElement {
  /** The top-level key holding the array (`images`, `annotations`, ...). */
  key: string;
  /** Position of the element in its array. */
  index: number;
  value: unknown;
}

const WS = new Uint8Array(256);
WS[32] = WS[9] = WS[10] = WS[13] = 1;
const BOM = [0xef, 0xbb, 0xbf];

type Mode = 'start' | 'key-or-end' | 'key' | 'colon' | 'value' | 'skip' | 'array' | 'elem' | 'after-elem' | 'done';

/** A JSON syntax problem at a byte offset of the file. */
export class JsonStreamError extends Error {
  constructor(file: string, offset: number, what: string) {
    super(`${file}: invalid JSON at byte ${offset}: ${what}`);
  }
}

/**
 * Yield the elements of the top-level arrays named in `keys`, in file order (so arrays may come
 * in any order). Keys not in `keys` are skipped; a wanted key whose value is not an array is an
 * error. The file must hold one JSON object.
 */
export async function* streamTopLevelArrays(
  file: string,
  keys: ReadonlySet<string>,
  chunkBytes = 1 << 20,
): AsyncGenerator<ArrayElement> {
  let mode = 'start' as Mode;
  let offset = 0; // file offset of the current chunk's first byte
  // Value scanner state (persists across chunks).
  let depth = 0;
  let inStr = false;
  let esc = false;
  let prim = false;
  let started = false;
  let parts: Buffer[] = []; // bytes of the key or element spanning chunks
  let key = '';
  let index = 0;

  const resetScan = (): void => {
    depth = 0;
    inStr = false;
    esc = false;
    prim = false;
    started = false;
  };

  const stream = createReadStream(file, { highWaterMark: chunkBytes });
  for await (const raw of stream as AsyncIterable<Buffer>) {
    const buf = raw;
    const n = buf.length;
    let i = 0;
    let pieceStart = mode === 'key' || mode === 'elem' ? 0 : -1;
    while (i < n) {
      const c = buf[i] as number;
      switch (mode) {
        case 'start':
          if (WS[c] || (offset + i < 3 && c === BOM[offset + i])) {
            i++; // whitespace or a UTF-8 byte-order mark
          } else if (c === 123) {
            mode = 'key-or-end';
            i++;
          } else {
            throw new JsonStreamError(file, offset + i, 'expected "{" (the file must hold one JSON object)');
          }
          break;
        case 'key-or-end':
          if (WS[c] || c === 44) {
            i++;
          } else if (c === 34) {
            mode = 'key';
            parts = [];
            pieceStart = i;
            resetScan();
            started = true;
            inStr = true;
            i++;
          } else if (c === 125) {
            mode = 'done';
            i++;
          } else {
            throw new JsonStreamError(file, offset + i, 'expected a key or "}"');
          }
          break;
        case 'key':
        case 'elem':
        case 'skip': {
          // Scan one value; for 'key' and 'elem' the bytes are kept.
          let end = -1;
          for (; i < n; i++) {
            const b = buf[i] as number;
            if (inStr) {
              if (esc) esc = false;
              else if (b === 92) esc = true;
              else if (b === 34) {
                inStr = false;
                if (depth === 0) {
                  end = i + 1;
                  break;
                }
              }
              continue;
            }
            if (prim) {
              if (b === 44 || b === 93 || b === 125 || WS[b]) {
                end = i;
                break;
              }
              continue;
            }
            if (!started) {
              started = true;
              if (b === 34) inStr = true;
              else if (b === 123 || b === 91) depth = 1;
              else prim = true;
              continue;
            }
            if (b === 34) inStr = true;
            else if (b === 123 || b === 91) depth++;
            else if (b === 125 || b === 93) {
              if (--depth === 0) {
                end = i + 1;
                break;
              }
            }
          }
          if (end < 0) break; // value continues in the next chunk
          i = end;
          if (mode === 'skip') {
            mode = 'key-or-end';
            break;
          }
          parts.push(buf.subarray(pieceStart, end));
          const text =
            parts.length === 1 ? (parts[0] as Buffer).toString('utf8') : Buffer.concat(parts).toString('utf8');
          parts = [];
          pieceStart = -1;
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch (err) {
            throw new JsonStreamError(
              file,
              offset + end,
              `${(err as Error).message} in ${mode === 'key' ? 'a key' : `${key}[${index}]`}`,
            );
          }
          if (mode === 'key') {
            key = value as string;
            mode = 'colon';
          } else {
            yield { key, index, value };
            index++;
            mode = 'after-elem';
          }
          break;
        }
        case 'colon':
          if (WS[c]) i++;
          else if (c === 58) {
            mode = 'value';
            i++;
          } else throw new JsonStreamError(file, offset + i, `expected ":" after key "${key}"`);
          break;
        case 'value':
          if (WS[c]) {
            i++;
          } else if (keys.has(key)) {
            if (c !== 91) throw new JsonStreamError(file, offset + i, `"${key}" must be an array`);
            mode = 'array';
            index = 0;
            i++;
          } else {
            mode = 'skip';
            resetScan();
          }
          break;
        case 'array':
          if (WS[c]) {
            i++;
          } else if (c === 93) {
            mode = 'key-or-end';
            i++;
          } else {
            mode = 'elem';
            resetScan();
            parts = [];
            pieceStart = i;
          }
          break;
        case 'after-elem':
          if (WS[c]) i++;
          else if (c === 44) {
            mode = 'array';
            i++;
          } else if (c === 93) {
            mode = 'key-or-end';
            i++;
          } else throw new JsonStreamError(file, offset + i, `expected "," or "]" in "${key}"`);
          break;
        case 'done':
          if (!WS[c]) throw new JsonStreamError(file, offset + i, 'unexpected data after the top-level object');
          i++;
          break;
      }
    }
    if ((mode === 'key' || mode === 'elem') && pieceStart >= 0) parts.push(buf.subarray(pieceStart));
    offset += n;
  }
  if (mode !== 'done') throw new JsonStreamError(file, offset, 'unexpected end of file');
}
