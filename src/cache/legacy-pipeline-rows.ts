/**
 * Caches written before pipelines were identified by their path from the working folder recorded
 * them under their bare file name (`fashion` for `pipelines/fashion.yaml`). The first time a
 * pipeline id is used with no rows of its own, the rows of its bare name (latest outputs, run
 * history, stage runs, output provenance) move to it, in one transaction. If two pipelines share a
 * bare name (`one/train.yaml`, `two/train.yaml`) the first one used takes the old rows; the other
 * starts without "latest" rows, and a stage whose key is in the cache is still restored, not rerun.
 */
import { basename, extname } from 'node:path';
import type Database from 'better-sqlite3';

/** The bare name an older tailor used for pipeline id `id`, or undefined if `id` is not a file path. */
export function legacyPipelineName(id: string): string | undefined {
  if (!/\.ya?ml$/.test(id)) return undefined;
  const name = basename(id, extname(id));
  return name === id ? undefined : name;
}

/** Move the rows of `id`'s bare name to `id` when `id` has none yet. Returns the rows moved. */
export function adoptLegacyPipelineRows(db: Database.Database, id: string): number {
  const legacy = legacyPipelineName(id);
  if (legacy === undefined) return 0;
  const has = (table: string, name: string): boolean =>
    db.prepare(`SELECT 1 FROM ${table} WHERE pipeline = ? LIMIT 1`).get(name) !== undefined;
  if (!has('latest', legacy) && !has('runs', legacy)) return 0;
  return db
    .transaction(() => {
      if (has('latest', id) || has('runs', id)) return 0;
      let moved = 0;
      for (const table of ['latest', 'runs', 'stage_runs', 'outputs'])
        moved += db.prepare(`UPDATE ${table} SET pipeline = ? WHERE pipeline = ?`).run(id, legacy).changes;
      return moved;
    })
    .immediate();
}

/** `adoptLegacyPipelineRows` once per pipeline id and process (the tables call it before they read or write). */
export function legacyAdopter(db: Database.Database): (id: string) => void {
  const seen = new Set<string>();
  return (id) => {
    if (seen.has(id)) return;
    seen.add(id);
    adoptLegacyPipelineRows(db, id);
  };
}
