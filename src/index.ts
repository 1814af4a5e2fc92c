/**
 * The public entry, `import { ... } from 'tailor'`: everything a stage module may use, user stages
 * and built-in ones alike (a test holds built-in stages to it: they import these modules and their
 * own helpers in src/ml and src/data, nothing of the engine).
 */

// Declaring a stage.
export { defineStage, STAGE_API_VERSION } from './stage-api.js';
// A stage fails with a plain message (no stack trace) by throwing this.
export { StageError } from './run/stage-error.js';
export type {
  InlineStageDefinition,
  JsonSchema,
  LazyStageDefinition,
  ParamsOf,
  StageContext,
  StageDefinition,
  StageImplementation,
  StageRun,
} from './stage-api.js';

// Finding inputs among ctx.needs, by the kind of output they are.
export {
  containedPath,
  findInput,
  findInputs,
  findOptionalInput,
  inputBase,
  isKind,
  resolveInput,
} from './stage-kit/inputs.js';
export type { InputOptions, NamedDir, Needs } from './stage-kit/inputs.js';
export {
  ANY_OUTPUT,
  FEATURES,
  IMAGES,
  LABEL_MAP,
  PREDICTIONS,
  SPLIT,
  TEST_IMAGES,
  TEST_JSON_FILE,
  THRESHOLDS,
} from './formats/output-kinds.js';
export type { OutputKind } from './formats/output-kinds.js';

// State kept across runs (item caches, checkpoints), keyed by ctx.codeKey.
export { codeScopedDir, hashBytes, itemKey } from './stage-kit/state.js';
export { ItemStore } from './stage-kit/item-store.js';
export { ItemCounter } from './stage-kit/progress.js';

// A share of the items under the stage key `shards: N` (the `shard` param; see src/stage-kit/shard.ts).
export { SHARD_PARAM_SCHEMA, ShardPart, shardOf } from './stage-kit/shard.js';
export type { ShardParam } from './stage-kit/shard.js';

// Seeded randomness.
export { hashSeed, mulberry32, shuffleInPlace } from './random.js';

// File formats stages write and read.
export { JsonlWriter, readJsonl, readJsonlAll, writeJsonl } from './formats/jsonl.js';
export { CsvWriter, csvCell, csvLine, parseCsv, parseCsvTable, round6, toCsv } from './formats/csv.js';
export type { CsvTable, CsvValue } from './formats/csv.js';
export {
  LABELS_FILE,
  MANIFEST_FILE,
  SPLIT_FILES,
  presentSplits,
  readLabelList,
  readSplitEntries,
  readSplitLines,
} from './formats/manifest.js';
export type { ImageSet, ManifestEntry, SplitName } from './formats/manifest.js';
export { LABEL_MAP_FILE, LABEL_MAP_HEADER, parseLabelMap } from './formats/label-map.js';
export { PREDICTIONS_FILE, readPredictions, writePredictions } from './formats/predictions.js';
export type { Predictions, SplitPredictions } from './formats/predictions.js';
export { FEATURES_FILE, FeatureMatrix, ShardWriter, readFeatureIndex, readSplit } from './formats/features.js';
export { ShardedFeatures, openSplitFeatures, type FeatureRows } from './formats/feature-shards.js';
export type { FeatureDtype, FeatureIndex, SplitData, SplitShards } from './formats/features.js';
export {
  THRESHOLDS_FILE,
  predictionsFingerprint,
  readThresholdsFile,
  writeThresholdsFile,
} from './formats/thresholds.js';
export type { ThresholdMode, ThresholdsFile } from './formats/thresholds.js';
export {
  SUBMISSION_FILE,
  SUBMISSION_HEADER,
  canonicalRows,
  compareIds,
  formatSubmission,
  parseSubmission,
} from './formats/submission.js';
export type { SubmissionRow } from './formats/submission.js';
