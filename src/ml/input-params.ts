/**
 * JSON Schema fragments of the params that name an upstream stage for an input (unset: the one
 * needed stage of that kind; see src/stage-kit/inputs.ts). Constants only: stage definitions
 * import them.
 */

/** The split stage (labels.json, train/validation/holdout.jsonl). */
export const SPLIT_PARAM = {
  type: 'string',
  minLength: 1,
  description: 'needed split stage; unset: the one that holds a split (labels.json, train/validation/holdout.jsonl)',
} as const;

/** Params of stages that read images through a split. */
export const IMAGE_INPUT_PARAMS = {
  split: SPLIT_PARAM,
  images: {
    type: 'string',
    minLength: 1,
    description:
      'needed stage whose folder the manifest file paths are relative to; unset: the one with manifest.jsonl, else the split',
  },
} as const;
