/**
 * `tailor doctor --repair-index`: a damaged index.sqlite (truncated, partly overwritten) is moved
 * aside with its WAL, a fresh index is made, and every row still readable from the damaged file
 * is copied over, table by table, stopping at the first unreadable page of each table. The stat
 * and folder caches are not copied (they are rebuilt by hashing); outputs whose row is lost are
 * simply run again (their objects are adopted on commit, see content-store.ts). Run it holding
 * the run lock.
 */
import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CacheIndex, INDEX_FILE } from './index-db.js';

export interface RepairReport {
  /** Where the damaged file was moved. */
  movedTo: string;
  /** Rows copied per table. */
  copied: Record<string, number>;
  /** Tables whose reading stopped at damage (some rows may be lost). */
  damaged: string[];
}

/** Tables worth salvaging, parents before children (foreign keys). */
const TABLES = ['outputs', 'latest', 'runs', 'stage_runs', 'exports'] as const;

/** SQLite's own check of an index file: 'ok', or what is wrong (never throws). */
export function checkIndexFile(file: string): string {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    return problems.length === 0 ? 'ok' : problems.slice(0, 3).join('; ');
  } catch (e) {
    return (e as Error).message;
  } finally {
    db?.close();
  }
}

export function repairIndex(cacheDir: string): RepairReport {
  const file = join(cacheDir, INDEX_FILE);
  const movedTo = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, movedTo + suffix);
  CacheIndex.open(cacheDir).close();
  const report: RepairReport = { movedTo, copied: {}, damaged: [] };
  let old: Database.Database;
  try {
    old = new Database(movedTo, { readonly: true, fileMustExist: true });
  } catch {
    report.damaged.push(...TABLES);
    return report;
  }
  const fresh = new Database(file);
  try {
    fresh.pragma('foreign_keys = ON');
    for (const table of TABLES) {
      report.copied[table] = 0;
      let columns: string[];
      try {
        columns = (old.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
      } catch {
        report.damaged.push(table);
        continue;
      }
      if (columns.length === 0) continue;
      const insert = fresh.prepare(
        `INSERT OR IGNORE INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      );
      // One transaction per table, committed even when reading stops at damage: what was read stays.
      fresh.exec('BEGIN');
      try {
        for (const row of old.prepare(`SELECT * FROM ${table}`).raw().iterate() as Iterable<unknown[]>) {
          try {
            if (insert.run(...row).changes > 0) report.copied[table]!++;
          } catch {
            // a row the fresh schema refuses (its parent was lost): dropped
          }
        }
      } catch {
        report.damaged.push(table);
      } finally {
        fresh.exec('COMMIT');
      }
    }
  } finally {
    fresh.close();
    old.close();
  }
  return report;
}
