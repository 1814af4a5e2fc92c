/**
 * Tamper detection for the upstream objects a stage reads. Objects are read-only (seal.ts), but
 * root ignores permission bits, and a stage can chmod; so the scheduler takes a stat snapshot of
 * every input object before a stage starts (the first snapshot of an object in this process is
 * its baseline, shared by every stage reading it, so a parallel reader is judged against the same
 * state) and compares after the stage ends, success or failure. An object whose snapshot moved
 * (inode, size, mtime, ctime, mode, or entries) is rehashed from its bytes: if its tree hash no
 * longer matches its name, the stage fails with a message naming the input, and the object is
 * dropped so the stage that made it runs again. A change that left the bytes alone (a hard link
 * made to a file, a chmod) only restores the read-only modes. The cost is two lstat walks of each
 * input object per stage; bytes are read only when a stat moved.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore } from './content-store.js';
import { FileHasher } from './file-hasher.js';
import { sealTree } from './seal.js';

/** Relative path -> stat signature of every entry of an object (undefined: the object is gone). */
type Snapshot = Map<string, string>;

export interface InputRef {
  /** The upstream stage, for messages. */
  name: string;
  treeHash: string;
}

export interface InputWatch {
  /** After the stage: a message naming each tampered input (each is dropped), or undefined. */
  check(): Promise<string | undefined>;
}

const baselines = new WeakMap<ObjectStore, Map<string, Snapshot>>();

function walk(dir: string, rel: string, out: Snapshot): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    const key = rel ? `${rel}/${e.name}` : e.name;
    const st = lstatSync(path, { bigint: true });
    const link = e.isSymbolicLink() ? ` -> ${readlinkSync(path)}` : '';
    out.set(key, `${st.mode}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}${link}`);
    if (e.isDirectory()) walk(path, key, out);
  }
}

function snapshot(dir: string): Snapshot | undefined {
  try {
    const st = lstatSync(dir, { bigint: true });
    const out: Snapshot = new Map([['.', `${st.mode}:${st.ino}:${st.mtimeNs}:${st.ctimeNs}`]]);
    walk(dir, '', out);
    return out;
  } catch {
    return undefined;
  }
}

/** The first difference between two snapshots, in words. */
function difference(before: Snapshot, now: Snapshot | undefined): string {
  if (!now) return 'the folder is gone';
  for (const [path, sig] of before) {
    const n = now.get(path);
    if (n === undefined) return `${path} was removed`;
    if (n !== sig) return path === '.' ? 'its folder was changed' : `${path} was changed`;
  }
  for (const path of now.keys()) if (!before.has(path)) return `${path} was added`;
  return 'nothing';
}

/** Snapshot the inputs a stage is about to read (see the module comment). */
export async function watchInputs(store: ObjectStore, inputs: readonly InputRef[]): Promise<InputWatch> {
  let known = baselines.get(store);
  if (!known) baselines.set(store, (known = new Map()));
  const base = known;
  for (const i of inputs) {
    if (base.has(i.treeHash)) continue;
    const snap = snapshot(store.pathOf(i.treeHash));
    if (snap) base.set(i.treeHash, snap);
  }
  return {
    async check() {
      const problems: string[] = [];
      for (const i of inputs) {
        const before = base.get(i.treeHash);
        const path = store.pathOf(i.treeHash);
        const now = snapshot(path);
        if (before && now && difference(before, now) === 'nothing') continue;
        if (now) {
          const h = await new FileHasher(undefined).hashPath(path).catch(() => undefined);
          if (h?.kind === 'dir' && h.hash === i.treeHash) {
            sealTree(path); // same bytes: a link or a chmod; put the read-only modes back
            base.set(i.treeHash, snapshot(path) ?? now);
            continue;
          }
        }
        const what = before ? difference(before, now) : 'it was gone when the stage started';
        base.delete(i.treeHash);
        if (now) await store.remove(i.treeHash);
        problems.push(
          `input ${i.name} (output ${i.treeHash.slice(0, 12)}) was modified while this stage ran (${what}); ` +
            `the stage's output is not kept, and ${i.name} will run again`,
        );
      }
      return problems.length > 0 ? problems.join('; ') : undefined;
    },
  };
}
