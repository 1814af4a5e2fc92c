/**
 * The kinds of broken image a scraped dataset holds, as bytes the demo writes in place of a
 * picture: a JPEG cut off mid-stream, an HTML error page saved under the image's name, and a
 * 1x1 placeholder (valid, but no picture). A dead URL is simply a file never written.
 */
import sharp from 'sharp';

export const BROKEN_KINDS = ['truncated', 'html', 'placeholder'] as const;
export type BrokenKind = (typeof BROKEN_KINDS)[number];

const HTML_PAGE = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Image not available</title></head>
<body><h1>Sorry, this product image is no longer available.</h1>
<p><a href="/">Back to the shop</a></p></body></html>
`;

let placeholder: Promise<Buffer> | undefined;

/** A 1x1 light-grey JPEG, made once. */
function placeholderJpeg(): Promise<Buffer> {
  placeholder ??= sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 238, g: 238, b: 238 } } })
    .jpeg({ quality: 80 })
    .toBuffer();
  return placeholder;
}

/** The bytes to write for a broken image of this kind, given the real JPEG it replaces. */
export async function brokenBytes(kind: BrokenKind, jpeg: Uint8Array): Promise<Uint8Array> {
  switch (kind) {
    case 'truncated':
      // Keep the headers and part of the scan: the decoder hits end-of-data mid-image.
      return jpeg.subarray(0, Math.max(200, Math.floor(jpeg.length * 0.45)));
    case 'html':
      return Buffer.from(HTML_PAGE, 'utf8');
    case 'placeholder':
      return placeholderJpeg();
  }
}
