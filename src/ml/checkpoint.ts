/**
 * Training checkpoints in a stage's state folder: after every epoch the variables, the optimizer's
 * moments, the best variables so far and the schedule's counters are written (atomically: temp
 * file + rename), under a key that hashes the stage's code key, params and inputs. A run
 * interrupted at epoch 7 resumes at epoch 8 with the same numbers it would have had; a run with
 * other code, params or inputs never picks up a foreign checkpoint.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CheckpointFile<M> {
  meta: M;
  arrays: Float32Array[];
}

const safe = (key: string): string => key.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80);

/** Folder holding the checkpoint for `key` under `root` (a folder of the stage's state). */
export function checkpointDir(root: string, key: string): string {
  return join(root, safe(key));
}

export async function saveCheckpoint<M>(dir: string, meta: M, arrays: Float32Array[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const sizes = arrays.map((a) => a.length);
  const bin = Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
  const tmpBin = join(dir, `arrays.bin.tmp-${process.pid}`);
  const tmpJson = join(dir, `meta.json.tmp-${process.pid}`);
  await writeFile(tmpBin, bin);
  await writeFile(tmpJson, JSON.stringify({ meta, sizes }));
  // Binary first: a crash between the renames leaves meta.json describing the older arrays'
  // sizes, which the reader detects and treats as no checkpoint.
  await rename(tmpBin, join(dir, 'arrays.bin'));
  await rename(tmpJson, join(dir, 'meta.json'));
}

export async function loadCheckpoint<M>(dir: string): Promise<CheckpointFile<M> | undefined> {
  let parsed: { meta: M; sizes: number[] };
  let bin: Buffer;
  try {
    parsed = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as { meta: M; sizes: number[] };
    bin = await readFile(join(dir, 'arrays.bin'));
  } catch {
    return undefined;
  }
  const total = parsed.sizes.reduce((a, b) => a + b, 0);
  if (bin.byteLength !== total * 4) return undefined;
  const all = new Float32Array(total);
  new Uint8Array(all.buffer).set(bin);
  const arrays: Float32Array[] = [];
  let off = 0;
  for (const n of parsed.sizes) {
    arrays.push(all.slice(off, off + n));
    off += n;
  }
  return { meta: parsed.meta, arrays };
}

export async function removeCheckpoint(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
