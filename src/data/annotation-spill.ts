/**
 * Labels by (set, imageId), spilled to a temporary SQLite file so that joining a million
 * annotations to their images keeps memory flat whichever array comes first in the JSON.
 * Bulk-inserted in transactions, indexed once at the end, deleted on close.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const PREFIX = 'spill-';
const BATCH = 5000;

export class AnnotationSpill {
  private readonly db: Database.Database;
  private readonly file: string;
  private readonly insert: Database.Statement<[string, string, string]>;
  private lookup: Database.Statement<[string, string], { labels: string }> | undefined;
  private pending: Array<[string, string, string]> = [];
  private readonly flushBatch: (rows: Array<[string, string, string]>) => void;

  /** A fresh spill file in `dir`; spill files of killed runs there are removed first. */
  constructor(dir: string) {
    for (const name of readdirSync(dir)) if (name.startsWith(PREFIX)) rmSync(join(dir, name), { force: true });
    this.file = join(dir, `${PREFIX}${process.pid}-${randomBytes(4).toString('hex')}.sqlite`);
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec('CREATE TABLE labels (image_set TEXT NOT NULL, image_id TEXT NOT NULL, labels TEXT NOT NULL)');
    this.insert = this.db.prepare('INSERT INTO labels (image_set, image_id, labels) VALUES (?, ?, ?)');
    this.flushBatch = this.db.transaction((rows: Array<[string, string, string]>) => {
      for (const r of rows) this.insert.run(...r);
    });
  }

  add(set: string, imageId: string, labels: readonly string[]): void {
    this.pending.push([set, imageId, JSON.stringify(labels)]);
    if (this.pending.length >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.pending.length) this.flushBatch(this.pending);
    this.pending = [];
  }

  /** Finish inserting; lookups may start. */
  seal(): void {
    this.flush();
    this.db.exec('CREATE INDEX labels_by_image ON labels (image_set, image_id)');
    this.lookup = this.db.prepare('SELECT labels FROM labels WHERE image_set = ? AND image_id = ?');
  }

  /** The image's labels (union over its annotations, deduplicated), or undefined when it has none. */
  get(set: string, imageId: string): string[] | undefined {
    if (!this.lookup) throw new Error('internal error: AnnotationSpill.get before seal');
    const rows = this.lookup.all(set, imageId);
    if (rows.length === 0) return undefined;
    if (rows.length === 1) return JSON.parse((rows[0] as { labels: string }).labels) as string[];
    const all = new Set<string>();
    for (const r of rows) for (const l of JSON.parse(r.labels) as string[]) all.add(l);
    return [...all];
  }

  close(): void {
    this.db.close();
    rmSync(this.file, { force: true });
  }
}
