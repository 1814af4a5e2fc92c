/**
 * Padded examples: the pad stage's own preview picture when it wrote one, else a grid of
 * thumbnails sampled from its manifest (made in memory with sharp, so the page stays small).
 */
import { basename, resolve, sep } from 'node:path';
import { bytesDataUri, eachJsonLine, pictureDataUri, picturesIn } from './stage-files.js';

export interface Thumb {
  src: string;
  caption: string;
}

/** Pictures whose names say they show examples. */
const PREVIEW = /preview|grid|example|sample|padd/i;

/** Preview pictures of a pad-like stage output (absolute paths). */
export async function previewPictures(dir: string): Promise<string[]> {
  const pics = await picturesIn(dir);
  const named = pics.filter((p) => PREVIEW.test(basename(p)));
  return named.length > 0 ? named : pics.length === 1 ? pics : [];
}

/**
 * Up to `count` thumbnails of images listed in `manifest.jsonl`, spread over its first entries.
 * A `file` that points outside the output folder is ignored: manifest fields are data.
 */
export async function sampleThumbs(
  dir: string,
  count = 12,
  label: (id: string) => string = (x) => x,
): Promise<Thumb[]> {
  const root = resolve(dir);
  const candidates: Array<{ file: string; caption: string }> = [];
  await eachJsonLine(resolve(root, 'manifest.jsonl'), (line) => {
    if (typeof line.file !== 'string' || line.error !== undefined) return true;
    const file = resolve(root, line.file);
    if (!file.startsWith(root + sep)) return true;
    const labels = Array.isArray(line.labels) ? line.labels.map((l) => label(String(l))) : [];
    candidates.push({ file, caption: `${String(line.imageId ?? '')}${labels.length ? `: ${labels.join(', ')}` : ''}` });
    return candidates.length < count * 20;
  });
  if (candidates.length === 0) return [];
  const step = Math.max(1, Math.floor(candidates.length / count));
  const chosen = candidates.filter((_, i) => i % step === 0).slice(0, count);
  const thumbs: Thumb[] = [];
  for (const c of chosen) {
    const src = (await thumbnail(c.file)) ?? (await pictureDataUri(c.file, 256 * 1024));
    if (src) thumbs.push({ src, caption: c.caption });
  }
  return thumbs;
}

/** A 160 px JPEG thumbnail, or undefined when sharp cannot read the file. */
async function thumbnail(file: string): Promise<string | undefined> {
  try {
    // Loaded here, not at the top: `tailor run` imports the report (for --report) on every run.
    const sharp = (await import('sharp')).default;
    const bytes = await sharp(file, { limitInputPixels: 50_000_000 })
      .resize(160, 160, { fit: 'contain', background: '#ffffff' })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 80 })
      .toBuffer();
    return bytesDataUri(bytes, 'image/jpeg');
  } catch {
    return undefined;
  }
}
