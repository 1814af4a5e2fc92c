/**
 * Is this byte string a usable picture? Decoded in full (through a small shrink-on-load resize,
 * which still reads every byte of the scan) so truncated files fail here rather than later, with
 * the pixel count bounded before decoding (decompression bombs) and vector or unknown formats
 * refused. Failures are reasons, not exceptions.
 */
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

/** Retries of failed decodes run one at a time (see decodeError). */
let retryChain: Promise<unknown> = Promise.resolve();

/**
 * Decode fully and return the reason of a failure. libvips keeps one error buffer for the whole
 * process, so when several decodes fail at once the text can come back as "Unknown error"; such a
 * failure is decoded again (serialised with other retries, up to 3 times) to learn the reason.
 */
async function decodeError(bytes: Buffer, options: SharpOptions): Promise<string | undefined> {
  let msg = await decode(bytes, options);
  for (let tries = 0; msg !== undefined && /unknown error/i.test(msg) && tries < 3; tries++) {
    const retry = retryChain.then(() => decode(bytes, options));
    retryChain = retry.catch(() => undefined);
    msg = (await retry) ?? msg;
  }
  return msg === undefined ? undefined : decodeReason(msg);
}

/** Check that `bytes` decode as a raster image within the limits. */
export async function checkImage(bytes: Buffer, limits: ImageLimits): Promise<ImageCheck> {
  if (bytes.length === 0) return { ok: false, reason: 'empty body' };
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
    return { ok: false, reason: decodeReason((e as Error).message) };
  }
  const ext = format === undefined ? undefined : IMAGE_EXT[format];
  if (ext === undefined) return { ok: false, reason: `unsupported format: ${format ?? 'unknown'}` };
  if (Math.min(width, height) < limits.minSide) return { ok: false, reason: `too small: ${width}x${height}` };
  const failure = await decodeError(bytes, options);
  if (failure !== undefined) return { ok: false, reason: failure };
  return { ok: true, ext, width, height };
}
