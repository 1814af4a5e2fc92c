/**
 * Reading iMaterialist JSON files (`{"images":[{url,imageId}],"annotations":[{labelId,imageId}]}`)
 * as a stream of checked records, whichever array comes first. Ids become strings; an entry of the
 * wrong shape is a user error naming the file and the array position.
 */
import { streamTopLevelArrays } from './json-array-stream.js';

/** One entry of `images`. */
export interface ImImage {
  imageId: string;
  url: string;
}

/** One entry of `annotations`, labels deduplicated (the source may repeat one). */
export interface ImAnnotation {
  imageId: string;
  labels: string[];
}

export type ImRecord = ({ kind: 'image' } & ImImage) | ({ kind: 'annotation' } & ImAnnotation);

/** A malformed entry in an iMaterialist file. */
export class ImaterialistFormatError extends Error {}

function idOf(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Stream the wanted arrays of one file as records, in file order. */
export async function* readImaterialist(
  file: string,
  want: { images?: boolean; annotations?: boolean },
): AsyncGenerator<ImRecord> {
  const keys = new Set<string>();
  if (want.images) keys.add('images');
  if (want.annotations) keys.add('annotations');
  for await (const el of streamTopLevelArrays(file, keys)) {
    const where = `${file}: ${el.key}[${el.index}]`;
    const v = el.value as Record<string, unknown> | null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ImaterialistFormatError(`${where}: expected an object`);
    }
    const imageId = idOf(v.imageId);
    if (imageId === undefined)
      throw new ImaterialistFormatError(`${where}: "imageId" must be a non-empty string or number`);
    if (el.key === 'images') {
      if (typeof v.url !== 'string') throw new ImaterialistFormatError(`${where}: "url" must be a string`);
      yield { kind: 'image', imageId, url: v.url };
    } else {
      const raw = v.labelId;
      if (!Array.isArray(raw)) throw new ImaterialistFormatError(`${where}: "labelId" must be an array`);
      const labels: string[] = [];
      for (const l of raw) {
        const id = idOf(l);
        if (id === undefined) throw new ImaterialistFormatError(`${where}: label ids must be strings or numbers`);
        if (!labels.includes(id)) labels.push(id);
      }
      yield { kind: 'annotation', imageId, labels };
    }
  }
}

/** Stream only the `images` entries of a file. */
export async function* readImages(file: string): AsyncGenerator<ImImage> {
  for await (const rec of readImaterialist(file, { images: true })) {
    if (rec.kind === 'image') yield { imageId: rec.imageId, url: rec.url };
  }
}
