/**
 * Image augmentation for end-to-end fine-tuning, on decoded RGB bytes before scaling: a horizontal
 * mirror and a random shift ("crop" of a white-padded canvas, as pad's white borders), both drawn
 * from the step's seeded PRNG so a rerun sees the same augmented images.
 */

/** Mirror and/or shift a size x size RGB image; uncovered pixels are white. */
export function augmentRgb(src: Uint8Array, size: number, flip: boolean, dx: number, dy: number): Uint8Array {
  const out = new Uint8Array(src.length).fill(255);
  for (let y = 0; y < size; y++) {
    const sy = y + dy;
    if (sy < 0 || sy >= size) continue;
    for (let x = 0; x < size; x++) {
      let sx = x + dx;
      if (sx < 0 || sx >= size) continue;
      if (flip) sx = size - 1 - sx;
      const o = (y * size + x) * 3;
      const i = (sy * size + sx) * 3;
      out[o] = src[i]!;
      out[o + 1] = src[i + 1]!;
      out[o + 2] = src[i + 2]!;
    }
  }
  return out;
}
