/**
 * fetch — download and validate every image listed in iMaterialist JSON files.
 *
 * Inputs: `train`, `validation`, `test` (paths to iMaterialist files, each optional). A relative
 * path is read from the upstream stage's output folder (`needs: [mosaic]`, `train: train.json`),
 * or from the one named by `from` when there are several, or from the working folder when the
 * stage has no upstream stage. URLs may be http(s), `file:///abs` or `file:rel` (relative to the
 * JSON file's folder).
 *
 * Outputs: `manifest.jsonl` (one line per image of every file, in file order: `file` for a usable
 * image, `error` otherwise), `images/<sha256>.<ext>` (hard links into the state folder),
 * `failures.csv` (`imageId,url,reason`), metrics with counts per failure reason. The stage fails
 * only when the failure share is above `max_failure_share` (after writing the report).
 *
 * Incremental per item: every source's outcome is committed to `index.sqlite` in `ctx.state` as
 * soon as it is known, with the code key that judged it; images are stored by content hash. A
 * rerun (after a kill, or with new URLs) fetches only sources it has no answer for (and, by
 * default, earlier transient failures). After a change to fetch's code, downloaded images are
 * checked again by the new code from the stored bytes (no download) and failures are fetched
 * again: a download does not depend on the code, its verdict does.
 * Memory stays flat: the JSON is streamed three times (count + spill labels to SQLite, fetch,
 * write the manifest) and never held. `shards: N` runs N fetches, each over the images whose imageId
 * hashes to it, joined into the same output (src/stage-kit/shard.ts). Implementation: impl/fetch.ts.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { SHARD_PARAM_SCHEMA } from '../src/stage-kit/shard.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    train: { type: 'string', minLength: 1, description: 'iMaterialist JSON of the training set' },
    validation: { type: 'string', minLength: 1, description: 'iMaterialist JSON of the validation set' },
    test: { type: 'string', minLength: 1, description: 'iMaterialist JSON of the test set (no annotations)' },
    from: { type: 'string', minLength: 1, description: 'upstream stage whose output folder holds the JSON files' },
    concurrency: { type: 'integer', minimum: 1, maximum: 1024, default: 16 },
    timeout_ms: { type: 'integer', minimum: 1, default: 30000, description: 'per attempt, redirects included' },
    retries: { type: 'integer', minimum: 0, maximum: 20, default: 3 },
    backoff_ms: {
      type: 'integer',
      minimum: 0,
      default: 500,
      description: 'first retry delay (doubles each retry, jittered)',
    },
    max_backoff_ms: { type: 'integer', minimum: 0, default: 10000 },
    max_failure_share: { type: 'number', minimum: 0, maximum: 1, default: 0.1 },
    max_bytes: { type: 'integer', minimum: 1, default: 20971520 },
    max_redirects: { type: 'integer', minimum: 0, maximum: 50, default: 5 },
    max_pixels: {
      type: 'integer',
      minimum: 1,
      default: 40000000,
      description: 'larger images are refused before decoding',
    },
    min_side: { type: 'integer', minimum: 1, default: 10, description: 'smaller images (placeholders) are failures' },
    refetch_failed: {
      enum: ['none', 'transient', 'all'],
      default: 'transient',
      description: 'which failures of earlier runs to try again',
    },
    shard: SHARD_PARAM_SCHEMA,
  },
} as const;

export type FetchParams = ParamsOf<typeof params>;

export default defineStage<FetchParams>({
  description: 'Download and validate the images of iMaterialist JSON files (item-level incremental)',
  deterministic: false,
  params,
  load: () => import('./impl/fetch.js'),
});
