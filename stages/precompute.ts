/**
 * precompute: backbone feature vectors for every image of every split, as the reference did to
 * train heads on ten times more data than end-to-end training allowed.
 *
 * Batched decode (sharp, off-thread) overlapped with inference, data-parallel over worker threads,
 * optional horizontal-flip averaging, float16/float32 shards with an index (see
 * src/ml/feature-shards.ts). Item-level incremental: features are kept in ctx.state by image content
 * hash and backbone, so a rerun computes only new images. Memory is flat in the number of images:
 * two streaming passes over the split files, with only the batches in flight held. `shards: N`
 * runs N precomputes, each over the images whose imageId hashes to it, assembled into the same
 * output (src/ml/feature-assembly.ts).
 */
import { defineStage, type ParamsOf } from '../src/stage-api.js';
import { BACKEND_PARAM } from '../src/ml/backend.js';
import { BACKBONE_PARAMS, MULTISCALE_PARAM } from '../src/ml/backbone-params.js';
import { IMAGE_INPUT_PARAMS } from '../src/ml/input-params.js';
import { SHARD_PARAM_SCHEMA } from '../src/stage-kit/shard.js';

const params = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...BACKBONE_PARAMS,
    backend: BACKEND_PARAM,
    flip: {
      type: 'string',
      enum: ['none', 'average'],
      default: 'none',
      description: 'average: mean of the features of the image and its mirror',
    },
    multiscale: MULTISCALE_PARAM,
    dtype: {
      type: 'string',
      enum: ['float16', 'float32'],
      default: 'float16',
      description: 'precision of the stored features',
    },
    shard_rows: { type: 'integer', minimum: 1, default: 8192, description: 'rows per shard file' },
    shard: SHARD_PARAM_SCHEMA,
    ...IMAGE_INPUT_PARAMS,
  },
} as const;

export type PrecomputeParams = ParamsOf<typeof params>;

export default defineStage<PrecomputeParams>({
  description: 'backbone features for every image of every split (binary shards + index), incremental per image',
  deterministic: false,
  params,
  load: () => import('./impl/precompute.js'),
});
