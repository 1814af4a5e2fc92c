/**
 * From image bytes to a model's input: decode with sharp (bounded in pixels, off the JS thread on
 * libuv's pool, so decoding the next batch overlaps inference of the current one), resize to the
 * model's square side when the padded image is not already that size, and scale pixel values the way
 * the backbone was trained.
 */

import sharp from 'sharp';
import type { Preprocess } from './choices.js';

/** Decompression-bomb guard: no model input needs more than this many source pixels. */
const MAX_INPUT_PIXELS = 50_000_000;

/** Decode one image to `size` x `size` RGB bytes (row-major, 3 channels). */
export async function decodeRgb(bytes: Uint8Array, size: number): Promise<Uint8Array> {
  const img = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' });
  const meta = await img.metadata();
  let pipeline = img.removeAlpha().toColourspace('srgb');
  // Images from pad are already square at the right side; anything else is stretched to fit,
  // as Keras' image loaders do (pad upstream when the aspect ratio matters).
  if (meta.width !== size || meta.height !== size) pipeline = pipeline.resize(size, size, { fit: 'fill' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Write `rgb` (size*size*3 bytes) scaled by `mode` into `out` at `offset` (float32). */
export function preprocessInto(rgb: Uint8Array, mode: Preprocess, out: Float32Array, offset: number): void {
  const n = rgb.length;
  switch (mode) {
    case 'unit':
      for (let i = 0; i < n; i++) out[offset + i] = rgb[i]! / 255;
      return;
    case 'symmetric':
      for (let i = 0; i < n; i++) out[offset + i] = rgb[i]! / 127.5 - 1;
      return;
    case 'raw':
      for (let i = 0; i < n; i++) out[offset + i] = rgb[i]!;
      return;
    case 'caffe':
      // Keras "caffe" mode: RGB -> BGR and subtract the ImageNet channel means.
      for (let i = 0; i < n; i += 3) {
        out[offset + i] = rgb[i + 2]! - 103.939;
        out[offset + i + 1] = rgb[i + 1]! - 116.779;
        out[offset + i + 2] = rgb[i]! - 123.68;
      }
      return;
  }
}
