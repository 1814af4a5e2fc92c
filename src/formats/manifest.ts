/**
 * Image manifests (`manifest.jsonl` of fetch/pad, `train.jsonl`… of split): one line per image.
 * See DESIGN.md "Stage outputs that others read".
 */
export type ImageSet = 'train' | 'validation' | 'test';
export type SplitName = 'train' | 'validation' | 'holdout' | 'test';

export interface ManifestEntry {
  imageId: string;
  set: ImageSet;
  /** Deduplicated label ids (absent or empty for test images). */
  labels?: string[];
  /** Path relative to the stage's output folder; absent when `error` is set. */
  file?: string;
  /** Why the image is unusable ("http 404", "decode: …"); no `file` then. */
  error?: string;
}

export const SPLIT_FILES: Record<SplitName, string> = {
  train: 'train.jsonl',
  validation: 'validation.jsonl',
  holdout: 'holdout.jsonl',
  test: 'test.jsonl',
};
