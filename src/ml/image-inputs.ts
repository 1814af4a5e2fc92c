/**
 * Where a stage that reads images through a split finds them: the split (labels and subsets) and
 * the folder the manifests' `file` paths are relative to (a stage with manifest.jsonl, else the
 * split's own folder); and the check that a backbone takes the size those images were padded to
 * (a 224 square stretched to 299 would be a silent change of method, so it is an error).
 */
import { readPadInfo } from '../data/pad-info.js';
import { IMAGES, SPLIT } from '../formats/output-kinds.js';
import { findInput, findOptionalInput, type Needs } from '../stage-kit/inputs.js';

export interface ImageInputs {
  splitDir: string;
  imagesDir: string;
  /** The needed stage the images come from (the split when none holds a manifest). */
  imagesStage: string;
}

export function findImageInputs(needs: Needs, params: { split?: string; images?: string }): ImageInputs {
  const split = findInput(needs, SPLIT, { param: { name: 'split', value: params.split } });
  const images = findOptionalInput(needs, IMAGES, {
    param: { name: 'images', value: params.images },
    exclude: [split],
  });
  return { splitDir: split.dir, imagesDir: images?.dir ?? split.dir, imagesStage: images?.name ?? split.name };
}

/**
 * Throw when the images come from a pad stage whose side is not the backbone's input size.
 * Images from elsewhere (no pad.json) are resized on decode, as Keras' loaders do.
 */
export async function checkPaddedSize(
  inputs: ImageInputs,
  backbone: { name: string; inputSize: number },
): Promise<void> {
  const pad = await readPadInfo(inputs.imagesDir);
  if (pad === undefined || pad.size === backbone.inputSize) return;
  const s = backbone.inputSize;
  throw new Error(
    `param backbone: ${backbone.name} takes ${s}x${s} images, but "${inputs.imagesStage}" pads to ${pad.size} (its param size): ` +
      `need a pad stage with size ${s} and name it in param images (images are never stretched)`,
  );
}
