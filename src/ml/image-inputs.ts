/**
 * Where a stage that reads images through a split finds them: the split (labels and subsets) and
 * the folder the manifests' `file` paths are relative to (a stage with manifest.jsonl, else the
 * split's own folder).
 */
import { IMAGES, SPLIT } from '../formats/output-kinds.js';
import { findInput, findOptionalInput, type Needs } from '../stage-kit/inputs.js';

export function findImageInputs(
  needs: Needs,
  params: { split?: string; images?: string },
): { splitDir: string; imagesDir: string } {
  const split = findInput(needs, SPLIT, { param: { name: 'split', value: params.split } });
  const images = findOptionalInput(needs, IMAGES, {
    param: { name: 'images', value: params.images },
    exclude: [split],
  });
  return { splitDir: split.dir, imagesDir: images?.dir ?? split.dir };
}
