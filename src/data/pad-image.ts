/**
 * The reference pipeline's image preparation: white-pad to a square keeping the aspect ratio,
 * resize to `size` x `size`, re-encode as JPEG at `quality`. One sharp pipeline: `fit: contain`
 * on a white background is padding and resizing in one step (JPEG shrink-on-load included);
 * transparency is flattened onto white and EXIF orientation applied first.
 */
import sharp from 'sharp';

export interface PadSpec {
  size: number;
  quality: number;
}

const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };

/** Inputs above this many pixels are refused (decompression bombs). */
export const PAD_MAX_PIXELS = 100_000_000;

/** Pad, resize and encode one image (bytes or a file path). */
export function padImage(input: Buffer | string, spec: PadSpec): Promise<Buffer> {
  return sharp(input, { limitInputPixels: PAD_MAX_PIXELS, failOn: 'truncated' })
    .rotate()
    .flatten({ background: WHITE })
    .resize(spec.size, spec.size, { fit: 'contain', background: WHITE })
    .jpeg({ quality: spec.quality })
    .toBuffer();
}
