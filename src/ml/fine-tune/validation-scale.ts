/**
 * The scale of fine-tune-backbone's validation micro-F1: true labels split dropped count as
 * misses and the split's images without an activation (failed downloads, decode failures) are
 * answered from priors, so both phases' early stopping and plateau watch the micro-F1 the stage
 * reports over every image (src/ml/model-report.ts), as train-head does.
 */
import { missedLabels } from '../label-matrix.js';
import type { Counts } from '../metrics.js';
import { unansweredCounts } from '../scored-set.js';
import type { ActivationCache } from './activations.js';

export interface ValidationScale {
  /** Per validation row (cache order), true labels outside the label list. */
  missed: Uint16Array;
  /** What the images without a row add to the counts. */
  unanswered: Counts;
}

export async function validationScale(
  splitDir: string,
  acts: ActivationCache,
  labels: string[],
): Promise<ValidationScale> {
  const rows = acts.images.validation ?? [];
  const { images: _images, ...unanswered } = await unansweredCounts(
    splitDir,
    'validation',
    labels,
    new Set(rows.map((i) => i.imageId)),
  );
  return { missed: missedLabels(rows, labels), unanswered };
}
