/**
 * The per-image cache of feature stages: backbone outputs kept in the stage's persistent state
 * folder, keyed by the image's content hash and the model key (the stage's code key, the
 * backbone and whatever else changes the values), so a rerun
 * with ten new images computes ten, and a renamed or re-padded-but-identical image is free.
 * SQLite (one file, transactions) rather than one file per image: a million tiny files is slow.
 * A stat cache (path, size, mtime, inode -> hash) avoids re-reading unchanged image files.
 * Values are kept in the precision the stage writes (float16 halves the store: 4.6 GB rather than
 * 9.2 GB for a million 2,288-wide rows); float16 entries live under their own model key, so a
 * float32 reader never meets them, while a float16 reader also takes float32 entries (rounding
 * them is what its shards do anyway). Half -> float -> half is exact, so shards written from a
 * float16 store hold the same bytes as shards written from float32 values.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { FeatureDtype } from '../formats/features.js';
import { decodeHalf, encodeHalf } from '../util/float16.js';

export class FeatureCache {
  private readonly getStmt: Database.Statement<[string, string], { data: Buffer }>;
  private readonly hasStmt: Database.Statement<[string, string], { one: number }>;
  private readonly putStmt: Database.Statement<[string, string, Buffer]>;
  private readonly failGet: Database.Statement<[string, string], { error: string }>;
  private readonly failPut: Database.Statement<[string, string, string]>;
  private readonly statGet: Database.Statement<[string], { size: number; mtime: number; ino: number; hash: string }>;
  private readonly statPut: Database.Statement<[string, number, number, number, string]>;

  /** Appended to item model keys of float16 entries. */
  private readonly ns: string;

  private constructor(
    private readonly db: Database.Database,
    private readonly dtype: FeatureDtype,
  ) {
    this.ns = dtype === 'float16' ? '|f16' : '';
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS items (model TEXT NOT NULL, hash TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (model, hash)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS failures (model TEXT NOT NULL, hash TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY (model, hash)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime REAL, ino INTEGER, hash TEXT) WITHOUT ROWID;
    `);
    this.getStmt = db.prepare('SELECT data FROM items WHERE model = ? AND hash = ?');
    this.hasStmt = db.prepare('SELECT 1 AS one FROM items WHERE model = ? AND hash = ?');
    this.putStmt = db.prepare('INSERT OR REPLACE INTO items (model, hash, data) VALUES (?, ?, ?)');
    this.failGet = db.prepare('SELECT error FROM failures WHERE model = ? AND hash = ?');
    this.failPut = db.prepare('INSERT OR REPLACE INTO failures (model, hash, error) VALUES (?, ?, ?)');
    this.statGet = db.prepare('SELECT size, mtime, ino, hash FROM files WHERE path = ?');
    this.statPut = db.prepare('INSERT OR REPLACE INTO files (path, size, mtime, ino, hash) VALUES (?, ?, ?, ?, ?)');
  }

  static open(file: string, dtype: FeatureDtype = 'float32'): FeatureCache {
    return new FeatureCache(new Database(file), dtype);
  }

  has(model: string, hash: string): boolean {
    return (
      this.hasStmt.get(model + this.ns, hash) !== undefined ||
      (this.ns !== '' && this.hasStmt.get(model, hash) !== undefined)
    );
  }

  get(model: string, hash: string): Float32Array | undefined {
    const own = this.getStmt.get(model + this.ns, hash);
    const row = own ?? (this.ns !== '' ? this.getStmt.get(model, hash) : undefined);
    if (!row) return undefined;
    const b = row.data;
    // Copy into an aligned buffer: SQLite's Buffer may start at any byte offset.
    if (own && this.dtype === 'float16') {
      const halves = new Uint16Array(b.byteLength / 2);
      new Uint8Array(halves.buffer).set(b);
      return decodeHalf(halves, new Float32Array(halves.length));
    }
    const out = new Float32Array(b.byteLength / 4);
    new Uint8Array(out.buffer).set(b);
    return out;
  }

  /** Why an image could not be processed by this model before (same bytes fail the same way). */
  failure(model: string, hash: string): string | undefined {
    return this.failGet.get(model, hash)?.error;
  }

  /** Store several items, and the images that failed, in one transaction. */
  putMany(
    model: string,
    items: Array<{ hash: string; values: Float32Array }>,
    failures: Array<{ hash: string; error: string }> = [],
  ): void {
    const tx = this.db.transaction(() => {
      for (const it of items) {
        const v = this.dtype === 'float16' ? encodeHalf(it.values) : it.values;
        this.putStmt.run(model + this.ns, it.hash, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      }
      for (const f of failures) this.failPut.run(model, f.hash, f.error);
    });
    tx();
  }

  /**
   * Content hash (sha256 hex) of a file, from the stat cache when size, mtime and inode are
   * unchanged; `bytes` is set when the file had to be read (so a caller needing them reads once).
   */
  async hashFile(path: string): Promise<{ hash: string; bytes?: Buffer }> {
    const st = await stat(path);
    const known = this.statGet.get(path);
    if (known && known.size === st.size && known.mtime === st.mtimeMs && known.ino === st.ino)
      return { hash: known.hash };
    const bytes = await readFile(path);
    const hash = createHash('sha256').update(bytes).digest('hex');
    this.statPut.run(path, st.size, st.mtimeMs, st.ino, hash);
    return { hash, bytes };
  }

  close(): void {
    this.db.close();
  }
}
