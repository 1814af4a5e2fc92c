/**
 * pad.json: the side and quality a pad stage wrote its images at, so a stage that feeds them to a
 * backbone can refuse a size mismatch by name instead of stretching the padded squares.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const PAD_INFO_FILE = 'pad.json';

export interface PadInfo {
  size: number;
  quality: number;
}

export async function writePadInfo(dir: string, info: PadInfo): Promise<void> {
  await writeFile(join(dir, PAD_INFO_FILE), JSON.stringify(info) + '\n');
}

/** The pad info of a folder, or undefined when the folder was not written by pad. */
export async function readPadInfo(dir: string): Promise<PadInfo | undefined> {
  const file = join(dir, PAD_INFO_FILE);
  if (!existsSync(file)) return undefined;
  const info = JSON.parse(await readFile(file, 'utf8')) as Partial<PadInfo>;
  if (typeof info.size !== 'number' || typeof info.quality !== 'number')
    throw new Error(`${file}: expected {"size": number, "quality": number}`);
  return { size: info.size, quality: info.quality };
}
