/**
 * The experiment queue: `queue.sqlite` in the cache folder, one row per queued experiment.
 *
 * States, each change one SQL statement (so a crash leaves every row in a state that says what
 * to do next):
 *
 *     queued ──claim (atomic UPDATE … RETURNING)──> running ──exit 0──> done
 *        ^                                            │ └──exit ≠ 0──> failed
 *        └──interrupted (Ctrl-C), or worker and ──────┘
 *           experiment process both found dead (at most MAX_ATTEMPTS claims, then failed)
 *
 * A separate database from the cache index: queueing never waits for a running pipeline's writes.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type QueueState = 'queued' | 'running' | 'done' | 'failed';

/** One queued experiment. */
export interface QueueEntry {
  id: number;
  name: string;
  /** Absolute path of the pipeline file. */
  pipeline: string;
  /** Working folder the experiment runs in. */
  workdir: string;
  sets: string[];
  /** `--jobs` given when queueing (else the worker's). */
  jobs: number | null;
  state: QueueState;
  attempts: number;
  addedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  workerPid: number | null;
  childPid: number | null;
  host: string | null;
  exitCode: number | null;
  message: string | null;
}

/** A claim that died with its worker is retried this many times in all, then marked failed. */
export const MAX_ATTEMPTS = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queue (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT NOT NULL,
  pipeline   TEXT NOT NULL,
  workdir    TEXT NOT NULL,
  sets       TEXT NOT NULL,
  jobs       INTEGER,
  state      TEXT NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  added_at   INTEGER NOT NULL,
  started_at INTEGER,
  ended_at   INTEGER,
  worker_pid INTEGER,
  child_pid  INTEGER,
  host       TEXT,
  exit_code  INTEGER,
  message    TEXT
);
CREATE INDEX IF NOT EXISTS queue_state ON queue(state, id);
`;

interface Row {
  id: number;
  name: string;
  pipeline: string;
  workdir: string;
  sets: string;
  jobs: number | null;
  state: QueueState;
  attempts: number;
  added_at: number;
  started_at: number | null;
  ended_at: number | null;
  worker_pid: number | null;
  child_pid: number | null;
  host: string | null;
  exit_code: number | null;
  message: string | null;
}

export class ExperimentQueue {
  private constructor(private readonly db: Database.Database) {}

  /** Open (creating) the queue of a cache folder. */
  static open(cacheDir: string): ExperimentQueue {
    mkdirSync(cacheDir, { recursive: true });
    const db = new Database(join(cacheDir, 'queue.sqlite'));
    db.pragma('busy_timeout = 10000');
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
    return new ExperimentQueue(db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Add an experiment; returns its entry. */
  add(e: { name: string; pipeline: string; workdir: string; sets: string[]; jobs?: number }): QueueEntry {
    const row = this.db
      .prepare(
        `INSERT INTO queue (name, pipeline, workdir, sets, jobs, state, added_at)
         VALUES (?, ?, ?, ?, ?, 'queued', ?) RETURNING *`,
      )
      .get(e.name, e.pipeline, e.workdir, JSON.stringify(e.sets), e.jobs ?? null, Date.now()) as Row;
    return toEntry(row);
  }

  /** Every entry, oldest first. */
  list(): QueueEntry[] {
    return (this.db.prepare('SELECT * FROM queue ORDER BY id').all() as Row[]).map(toEntry);
  }

  get(id: number): QueueEntry | undefined {
    const row = this.db.prepare('SELECT * FROM queue WHERE id = ?').get(id) as Row | undefined;
    return row && toEntry(row);
  }

  /** Take the oldest queued entry for this worker, atomically; undefined when none is queued. */
  claim(workerPid: number, host: string): QueueEntry | undefined {
    const row = this.db
      .prepare(
        `UPDATE queue SET state = 'running', started_at = ?, ended_at = NULL, worker_pid = ?, child_pid = NULL, host = ?,
           attempts = attempts + 1, exit_code = NULL, message = NULL
         WHERE id = (SELECT id FROM queue WHERE state = 'queued' ORDER BY id LIMIT 1) RETURNING *`,
      )
      .get(Date.now(), workerPid, host) as Row | undefined;
    return row && toEntry(row);
  }

  /** Record the experiment's own process, so a dead worker with a live experiment is not retried. */
  setChild(id: number, childPid: number): void {
    this.db.prepare('UPDATE queue SET child_pid = ? WHERE id = ?').run(childPid, id);
  }

  /** Close a running entry. */
  finish(id: number, state: 'done' | 'failed', exitCode: number | null, message: string | null): void {
    this.db
      .prepare(
        `UPDATE queue SET state = ?, ended_at = ?, exit_code = ?, message = ? WHERE id = ? AND state = 'running'`,
      )
      .run(state, Date.now(), exitCode, message, id);
  }

  /** Put a running entry back (interrupted: it will run again from the start, reusing the cache). */
  requeue(id: number, message: string): void {
    this.db
      .prepare(
        `UPDATE queue SET state = 'queued', message = ?, worker_pid = NULL, child_pid = NULL WHERE id = ? AND state = 'running'`,
      )
      .run(message, id);
  }

  /** Remove a queued (not running) entry; true when one was removed. */
  cancel(id: number): boolean {
    return this.db.prepare(`DELETE FROM queue WHERE id = ? AND state = 'queued'`).run(id).changes > 0;
  }

  /**
   * Running entries of this host whose worker and experiment processes are both gone (killed,
   * machine rebooted): queued again, or failed after MAX_ATTEMPTS claims. Returns them.
   */
  recoverDead(host: string, isAlive: (pid: number) => boolean): QueueEntry[] {
    return this.db
      .transaction(() => {
        const rows = (
          this.db.prepare(`SELECT * FROM queue WHERE state = 'running' AND host = ?`).all(host) as Row[]
        ).map(toEntry);
        const dead = rows.filter(
          (e) => !(e.workerPid !== null && isAlive(e.workerPid)) && !(e.childPid !== null && isAlive(e.childPid)),
        );
        for (const e of dead) {
          if (e.attempts >= MAX_ATTEMPTS) this.finish(e.id, 'failed', null, `its worker died ${e.attempts} time(s)`);
          else this.requeue(e.id, 'its worker died; queued again');
        }
        return dead;
      })
      .immediate();
  }
}

function toEntry(r: Row): QueueEntry {
  return {
    id: r.id,
    name: r.name,
    pipeline: r.pipeline,
    workdir: r.workdir,
    sets: JSON.parse(r.sets) as string[],
    jobs: r.jobs,
    state: r.state,
    attempts: r.attempts,
    addedAt: r.added_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    workerPid: r.worker_pid,
    childPid: r.child_pid,
    host: r.host,
    exitCode: r.exit_code,
    message: r.message,
  };
}
