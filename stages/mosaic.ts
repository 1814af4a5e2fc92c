/**
 * mosaic — the embedded demo dataset: iMaterialist-shaped JSON files over pictures composed from
 * real Fashion-MNIST garments (upscaled, tinted, patterned, 1-4 per white canvas), with a
 * long-tailed multi-label annotation and the defects of scraped data (dead and broken URLs,
 * repeated labels).
 *
 * Outputs: `train.json`, `validation.json`, `test.json` (no annotations), `images/<set>/<id>.jpg`,
 * `label-map.csv` (`labelId,taskId,labelName,taskName`), `test-solution.csv` (the hidden test
 * labels in submission format, for scoring a submission), `metrics.json`.
 *
 * URLs are `file:images/<set>/<id>.jpg`: relative to the JSON file's folder, because this folder
 * moves into the cache after the run; `fetch` resolves a relative `file:` URL against the folder of
 * the JSON file that holds it. Image ids restart at 1 in each file, as in the challenge data.
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    train_images: { type: 'integer', minimum: 1, default: 2400 },
    validation_images: { type: 'integer', minimum: 1, default: 600 },
    test_images: { type: 'integer', minimum: 1, default: 400 },
    min_side: { type: 'integer', minimum: 112, maximum: 4000, default: 160 },
    max_side: { type: 'integer', minimum: 112, maximum: 4000, default: 400 },
    dead_share: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.02,
      description: 'share of URLs pointing to no file',
    },
    broken_share: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.03,
      description: 'share of URLs holding a truncated JPEG, an HTML page or a 1x1 placeholder',
    },
    repeat_label_share: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.05,
      description: 'share of annotations repeating a label',
    },
    quality: { type: 'integer', minimum: 1, maximum: 100, default: 90 },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 4, description: 'pictures encoded at once' },
  },
} as const;

export type MosaicParams = ParamsOf<typeof params>;

export default defineStage<MosaicParams>({
  description: 'Demo dataset in iMaterialist format from Fashion-MNIST garments (long-tailed multi-label)',
  deterministic: true,
  params,
  load: () => import('./impl/mosaic.js'),
});
