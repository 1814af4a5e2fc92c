/**
 * checkImage gives each byte string the same answer whether it is checked alone or among hundreds
 * of failing decodes at once: libvips shares one error buffer per process, and a failure reason is
 * part of fetch's output (failures.csv, the manifest), so a reason that depended on what else was
 * decoding would change fetch's content hash from run to run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { brokenBytes } from '../src/data/broken-images.js';
import { checkImage, type ImageCheck } from '../src/data/image-check.js';

const LIMITS = { maxPixels: 50_000_000, minSide: 8 };

const answer = (r: ImageCheck): string => (r.ok ? `ok ${r.ext} ${r.width}x${r.height}` : r.reason);

async function corpus(n: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const jpeg = await sharp({
      create: { width: 320 + i, height: 240, channels: 3, background: { r: i % 256, g: 60, b: 120 } },
    })
      .jpeg()
      .toBuffer();
    const kind = (['truncated', 'html', 'placeholder'] as const)[i % 4];
    out.push(kind === undefined ? jpeg : Buffer.from(await brokenBytes(kind, jpeg)));
  }
  return out;
}

test('failure reasons do not depend on what else is being decoded', async () => {
  const images = await corpus(240);
  const alone: string[] = [];
  for (const b of images) alone.push(answer(await checkImage(b, LIMITS)));
  assert.deepEqual(
    new Set(alone),
    new Set(['truncated image', 'not an image', 'too small: 1x1', ...alone.filter((a) => a.startsWith('ok'))]),
  );
  for (let round = 0; round < 4; round++) {
    const together = await Promise.all(images.map(async (b) => answer(await checkImage(b, LIMITS))));
    const differ = together.flatMap((a, i) => (a === alone[i] ? [] : [`#${i}: ${a} (alone: ${alone[i]})`]));
    assert.deepEqual(differ, [], `round ${round}`);
  }
});
