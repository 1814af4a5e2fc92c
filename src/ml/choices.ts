/**
 * The names ML params choose from. A module of constants only: stage definitions (read by the
 * engine's own process, see src/stage-api.ts) import it without loading any ML code.
 */

/** Built-in backbones (src/ml/backbones.ts); any other `backbone` value is a path to a model.json. */
export const BUILTIN_BACKBONES = ['mobilenet_v2', 'mobilenet_v2_mid', 'inception_v3', 'tiny'] as const;

/** Pixel scaling a backbone expects (src/ml/image-input.ts). */
export const PREPROCESS = ['unit', 'symmetric', 'caffe', 'raw'] as const;
export type Preprocess = (typeof PREPROCESS)[number];

/** Multi-label losses (src/ml/losses.ts). */
export const LOSSES = ['bce', 'weighted_bce', 'focal'] as const;
export type LossName = (typeof LOSSES)[number];

/** What picks the best epoch and stops training early (src/ml/trainer.ts). */
export const MONITORS = ['val_loss', 'val_micro_f1'] as const;
export type Monitor = (typeof MONITORS)[number];

/** How fine-tune-backbone's tail phase gets its batches (src/ml/fine-tune/routes.ts). */
export const ROUTE_NAMES = ['cached', 'images'] as const;
export type RouteName = (typeof ROUTE_NAMES)[number];

/** Most threshold grid steps an ensemble objective counts (src/ml/ensemble.ts). */
export const MAX_OBJECTIVE_STEPS = 10000;
