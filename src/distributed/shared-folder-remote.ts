/**
 * A `file:///PATH` remote: a folder every machine mounts (NFS on a cluster, or one disk in
 * tests). The phase-A stand-in for the remote-cache library, with the same rules:
 *
 *   objects/<treeHash>/   an output folder, copied in under a temp name and renamed (never partial)
 *   keys/<key>.json       the record naming it, written after the object, also by rename
 *
 * A restore copies into the local store's temp area and commits it there, so the bytes are
 * hashed on arrival: a wrong or partial object is a miss (`corrupt`), never a wrong output.
 * Two machines publishing the same key write the same bytes: the later rename simply wins.
 */
import { cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Session } from '../run/session.js';
import { isTreeHash } from '../cache/content-store.js';
import type { RemoteOutputs, RemoteRecord, RestoreResult } from './remote-outputs.js';

export class SharedFolderRemote implements RemoteOutputs {
  constructor(
    readonly root: string,
    readonly url: string,
  ) {}

  private objectDir(treeHash: string): string {
    if (!isTreeHash(treeHash)) throw new Error(`internal error: not a tree hash: ${JSON.stringify(treeHash)}`);
    return join(this.root, 'objects', treeHash.slice(0, 2), treeHash);
  }

  private keyFile(key: string): string {
    if (!isTreeHash(key)) throw new Error(`internal error: not a stage key: ${JSON.stringify(key)}`);
    return join(this.root, 'keys', key.slice(0, 2), `${key}.json`);
  }

  private tempPath(): string {
    return join(this.root, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  async lookup(key: string): Promise<RemoteRecord | undefined> {
    let rec: RemoteRecord;
    try {
      rec = JSON.parse(await readFile(this.keyFile(key), 'utf8')) as RemoteRecord;
    } catch {
      return undefined;
    }
    if (rec.key !== key || !isTreeHash(rec.treeHash) || !isTreeHash(rec.contentHash)) return undefined;
    const st = await stat(this.objectDir(rec.treeHash)).catch(() => undefined);
    return st?.isDirectory() ? rec : undefined;
  }

  async restore(key: string, session: Session): Promise<RestoreResult> {
    const local = session.index.getOutput(key);
    if (local && (await session.store.verify(local.treeHash)) === 'ok') return 'present';
    const rec = await this.lookup(key);
    if (!rec) return 'missing';
    if ((await session.store.verify(rec.treeHash)) !== 'ok') {
      const tmp = await session.store.newTempDir(`restore-${rec.stage}`);
      try {
        await cp(this.objectDir(rec.treeHash), tmp, { recursive: true });
      } catch {
        await rm(tmp, { recursive: true, force: true });
        return 'missing';
      }
      const committed = await session.store.commit(tmp);
      if (committed.treeHash !== rec.treeHash) {
        await session.store.remove(committed.treeHash);
        return 'corrupt';
      }
    }
    session.index.putOutput({
      stageKey: key,
      treeHash: rec.treeHash,
      contentHash: rec.contentHash,
      pipeline: rec.pipeline,
      stage: rec.stage,
      ingredients: rec.ingredients,
      metrics: rec.metrics,
      createdAt: rec.createdAt,
      seconds: rec.seconds,
    });
    return 'restored';
  }

  async publish(key: string, session: Session): Promise<void> {
    const out = session.index.getOutput(key);
    if (!out) throw new Error(`internal error: publish of ${key}, which this cache has no output for`);
    const dest = this.objectDir(out.treeHash);
    if (!(await stat(dest).catch(() => undefined))) {
      const tmp = this.tempPath();
      await mkdir(join(this.root, 'tmp'), { recursive: true });
      await cp(session.store.pathOf(out.treeHash), tmp, { recursive: true });
      await mkdir(join(dest, '..'), { recursive: true });
      await rename(tmp, dest).catch(async (e: NodeJS.ErrnoException) => {
        // Someone published the same object meanwhile: theirs has the same bytes.
        await rm(tmp, { recursive: true, force: true });
        if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      });
    }
    const rec: RemoteRecord = {
      key,
      treeHash: out.treeHash,
      contentHash: out.contentHash ?? out.treeHash,
      pipeline: out.pipeline,
      stage: out.stage,
      ingredients: out.ingredients,
      metrics: out.metrics,
      seconds: out.seconds,
      createdAt: out.createdAt,
    };
    const file = this.keyFile(key);
    await mkdir(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(rec) + '\n');
    await rename(tmp, file);
  }
}
