/**
 * Is this byte string a usable picture? Decoded in full (through a small shrink-on-load resize,
 * which still reads every byte of the scan) so truncated files fail here rather than later, with
 * the pixel count bounded before decoding (decompression bombs) and vector or unknown formats
 * refused. Failures are reasons, not exceptions.
 */
import { Semaphore } from 'async-mutex';
import sharp, { type SharpOptions } from 'sharp';

/** File extension for each accepted raster format (sharp's format names). */
export const IMAGE_EXT: Readonly<Record<string, string>> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  tiff: 'tif',
  avif: 'avif',
  heif: 'heic',
};

export interface ImageLimits {
  /** Largest width x height accepted (checked from the header, before decoding). */
  maxPixels: number;
  /** Smallest side accepted: 1x1 placeholders are not pictures. */
  minSide: number;
}

export type ImageCheck = { ok: true; ext: string; width: number; height: number } | { ok: false; reason: string };

/** A stable reason for a decoder message, so failure counts group well. */
function decodeReason(message: string): string {
  if (/unsupported image format/i.test(message)) return 'not an image';
  if (/premature end|truncat|end of (file|stream|data)/i.test(message)) return 'truncated image';
  if (/pixel limit/i.test(message)) return 'too many pixels';
  if (/unknown error/i.test(message)) return 'decode failed (no reason given)';
  return `decode: ${message.replace(/\s+/g, ' ').trim().slice(0, 120)}`;
}

async function decode(bytes: Buffer, options: SharpOptions): Promise<string | undefined> {
  try {
    await sharp(bytes, options).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * libvips keeps one error buffer for the whole process: when several decodes fail at once, a
 * failure's text can be another image's, both run together ("not an image" for a truncated
 * JPEG), or "Unknown error". So a decoder failure is checked again alone — every other check
 * waits — and only that text is kept; the reason is then a function of the bytes. Failures are a
 * few percent of a scrape, so the pauses cost little.
 */
const ALL = 1 << 20;
const decoders = new Semaphore(ALL);
const together = <T>(check: () => Promise<T>): Promise<T> => decoders.runExclusive(check, 1);
const alone = <T>(check: () => Promise<T>): Promise<T> => decoders.runExclusive(check, ALL, 1);

type Inspection = ImageCheck | { ok: false; reason: string; decoder: true };

async function inspect(bytes: Buffer, limits: ImageLimits): Promise<Inspection> {
  // limitInputPixels rejects from the header; failOn 'truncated' makes a cut-off scan an error
  // while tolerating the harmless warnings many web JPEGs carry.
  const options: SharpOptions = { limitInputPixels: limits.maxPixels, failOn: 'truncated', sequentialRead: true };
  let format: string | undefined;
  let width = 0;
  let height = 0;
  try {
    const meta = await sharp(bytes, options).metadata();
    format = meta.format;
    width = meta.width ?? 0;
    height = meta.height ?? 0;
  } catch (e) {
    return { ok: false, reason: decodeReason((e as Error).message), decoder: true };
  }
  const ext = format === undefined ? undefined : IMAGE_EXT[format];
  if (ext === undefined) return { ok: false, reason: `unsupported format: ${format ?? 'unknown'}` };
  if (Math.min(width, height) < limits.minSide) return { ok: false, reason: `too small: ${width}x${height}` };
  const failure = await decode(bytes, options);
  if (failure !== undefined) return { ok: false, reason: decodeReason(failure), decoder: true };
  return { ok: true, ext, width, height };
}

const withoutFlag = (r: Inspection): ImageCheck => (r.ok ? r : { ok: false, reason: r.reason });

/** Check that `bytes` decode as a raster image within the limits. */
export async function checkImage(bytes: Buffer, limits: ImageLimits): Promise<ImageCheck> {
  if (bytes.length === 0) return { ok: false, reason: 'empty body' };
  const first = await together(() => inspect(bytes, limits));
  if (first.ok || !('decoder' in first)) return first;
  return withoutFlag(await alone(() => inspect(bytes, limits)));
}
