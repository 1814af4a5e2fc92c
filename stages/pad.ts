/**
 * pad — white-pad every image to a square (aspect ratio kept), resize to `size`, re-encode JPEG
 * at `quality`, as the reference pipeline did for its CNN inputs.
 *
 * Input: the upstream stage's `manifest.jsonl` (fetch's, or any with the same line shape; `from`
 * picks the upstream stage when there are several). Output: `manifest.jsonl` (same lines, `file`
 * now the padded image; lines with `error` pass through), `images/<name>.jpg` (named by a hash of
 * the input bytes alone, so pads at other sizes name every image alike), `pad.json` (size and
 * quality: backbone stages refuse a size their model does not take), `preview.jpg` (a grid of
 * originals beside their padded versions), metrics.
 *
 * Incremental per item: a padded image is kept in `ctx.state` under a hash of (input bytes, size,
 * quality, code key) and hard-linked into the output, so a rerun with new images (or after an
 * interruption) pads only what it has not padded before, and a change to the padding code pads
 * everything again. `shards: N` runs N pads, each over the lines whose imageId hashes to it, joined
 * into the same output (src/stage-kit/shard.ts). Implementation: impl/pad.ts.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { SHARD_PARAM_SCHEMA } from '../src/stage-kit/shard.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    size: { type: 'integer', minimum: 8, maximum: 4096, default: 224, description: 'side of the square output (px)' },
    quality: { type: 'integer', minimum: 1, maximum: 100, default: 85, description: 'JPEG quality' },
    from: {
      type: 'string',
      minLength: 1,
      description: 'upstream stage holding the manifest (when there are several)',
    },
    manifest: { type: 'string', minLength: 1, default: 'manifest.jsonl' },
    concurrency: {
      type: 'integer',
      minimum: 0,
      maximum: 256,
      default: 0,
      description: 'images in flight; 0 = 2 per core',
    },
    preview_images: { type: 'integer', minimum: 0, maximum: 64, default: 8 },
    shard: SHARD_PARAM_SCHEMA,
  },
} as const;

export type PadParams = ParamsOf<typeof params>;

export default defineStage<PadParams>({
  description: 'White-pad images to a square, resize and re-encode as JPEG (item-level incremental)',
  deterministic: true,
  params,
  load: () => import('./impl/pad.js'),
});
