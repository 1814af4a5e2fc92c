/**
 * A picture for humans: pairs of images side by side (e.g. an original beside its padded version),
 * each fitted into a tile on a grey background so white padding stays visible, two pairs per row.
 */
import sharp from 'sharp';

const TILE = 200;
const GAP = 8;
const PAIRS_PER_ROW = 2;
const GREY = { r: 150, g: 150, b: 150, alpha: 1 };
const PANEL = { r: 205, g: 205, b: 205, alpha: 1 };

/** Write a JPEG grid of `[left, right]` image file pairs to `dest`. */
export async function writePreviewGrid(pairs: ReadonlyArray<readonly [string, string]>, dest: string): Promise<void> {
  const rows = Math.ceil(pairs.length / PAIRS_PER_ROW);
  const cols = Math.min(pairs.length, PAIRS_PER_ROW) * 2;
  const width = cols * TILE + (cols + 1) * GAP + (PAIRS_PER_ROW - 1) * GAP * 2;
  const height = rows * TILE + (rows + 1) * GAP;
  const composites: Array<{ input: Buffer; left: number; top: number }> = [];
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i] as readonly [string, string];
    const row = Math.floor(i / PAIRS_PER_ROW);
    const slot = i % PAIRS_PER_ROW;
    for (let side = 0; side < 2; side++) {
      const col = slot * 2 + side;
      const tile = await sharp(pair[side]).resize(TILE, TILE, { fit: 'contain', background: PANEL }).toBuffer();
      composites.push({ input: tile, left: GAP + col * (TILE + GAP) + slot * GAP * 2, top: GAP + row * (TILE + GAP) });
    }
  }
  await sharp({ create: { width, height, channels: 3, background: GREY } })
    .composite(composites)
    .jpeg({ quality: 85 })
    .toFile(dest);
}
