/**
 * What kinds of stage output other stages read, each defined once by the files that make a folder
 * one: how a stage recognises its inputs among `ctx.needs` (see src/stage-kit/inputs.ts).
 */
import { FEATURES_FILE } from './features.js';
import { LABEL_MAP_FILE } from './label-map.js';
import { LABELS_FILE, MANIFEST_FILE, SPLIT_FILES } from './manifest.js';
import { PREDICTIONS_FILE } from './predictions.js';
import { THRESHOLDS_FILE } from './thresholds.js';

export interface OutputKind {
  /** In words, for messages: "a split (labels.json, train.jsonl, ...)". */
  readonly what: string;
  /** Files a folder of this kind holds (all of them). */
  readonly files: readonly string[];
}

function kind(noun: string, ...files: string[]): OutputKind {
  return { what: `${noun} (${files.join(', ')})`, files };
}

/** fetch's or pad's output: images listed in manifest.jsonl. */
export const IMAGES = kind('images', MANIFEST_FILE);
/** split's output: the kept labels and the labelled subsets (test.jsonl may be absent). */
export const SPLIT = kind('a split', LABELS_FILE, SPLIT_FILES.train, SPLIT_FILES.validation, SPLIT_FILES.holdout);
/** precompute's output. */
export const FEATURES = kind('precomputed features', FEATURES_FILE);
/** A model's or an ensemble's output. */
export const PREDICTIONS = kind('predictions', PREDICTIONS_FILE);
/** threshold's output. */
export const THRESHOLDS = kind('thresholds', THRESHOLDS_FILE);
/** An iMaterialist test file in a stage's output (mosaic's). */
export const TEST_JSON_FILE = 'test.json';
export const TEST_IMAGES = kind('a test image list', TEST_JSON_FILE);
/** A label map in a stage's output (mosaic's). */
export const LABEL_MAP = kind('a label map', LABEL_MAP_FILE);
/** Any upstream folder: for params that name a folder to read files from. */
export const ANY_OUTPUT: OutputKind = { what: 'an upstream output', files: [] };
