/**
 * `tailor watch` as an explicit state machine. File events are debounced into one batch; what a
 * batch does depends on the state:
 *
 *                 batch                          run ends, nothing pending
 *     ┌──────┐ ──────────────> ┌─────────┐ ──────────────────────────────> idle
 *     │ idle │                 │ running │ <──────────────┐
 *     └──────┘ <─ load error ─ └─────────┘                │ run ends: reload, run again
 *                                 │    │ batch touching   │
 *        batch touching only ─────┘    │ an unfinished    │
 *        finished stages: pending      v stage: abort  ┌────────────┐
 *        (run again when it ends)      └─────────────> │ cancelling │
 *                                                      └────────────┘
 *     Ctrl-C: idle ──> stopped;  running | cancelling ──> stopping ──run ends──> stopped
 *
 * Each run goes through the run use case (src/run/run-pipeline.ts, handed in as `runOnce`), which
 * takes and releases the cache lock, so the cache is consistent between runs and after Ctrl-C (an
 * interrupted stage commits nothing). Only stale stages run: everything else is found in the
 * cache. A broken pipeline file is reported with its position and the watch goes on over the
 * last good pipeline's files. Ctrl-C is the caller's `stop` signal: the run in progress sees the
 * same abort, so there is one cancellation path.
 */
import { existsSync } from 'node:fs';
import { resolve, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { loadPipeline } from '../pipeline/load.js';
import { upstream } from '../pipeline/dag.js';
import type { Diagnostic, Pipeline } from '../pipeline/types.js';
import { CodeFingerprinter } from '../run/code-fingerprint.js';
import type { RunEvent } from '../run/events.js';
import { affectedStages } from './affected.js';
import { buildWatchSet, isExportTarget, watchedPaths, type WatchSet } from './watch-set.js';

/** How one run ended, as far as the watcher cares: done (whatever the stages did), or the cache was locked. */
export type WatchRunEnd = 'done' | 'locked';

/** Runs a loaded pipeline once; the watcher owns nothing else about running. */
export type RunOnce = (pipeline: Pipeline, signal: AbortSignal, onEvent: (e: RunEvent) => void) => Promise<WatchRunEnd>;

export interface WatchOptions {
  /** The pipeline file, its `--set` overrides, the stages to keep up to date (none: all). */
  file: string;
  sets: string[];
  stages: string[];
  runOnce: RunOnce;
  /** Aborted to stop watching (Ctrl-C); a run in progress is interrupted by the same abort. */
  stop: AbortSignal;
  /** Quiet period after the last file event before acting (ms). */
  debounceMs: number;
  /** Where parsed code facts are cached (read only here: runs keep it up to date). */
  codeFactsFile?: string;
  /** The run's cache folder (parsed pipeline trees are kept there). */
  cacheDir?: string;
  /** Paths under these folders are never treated as inputs (the cache). */
  ignoreUnder: string[];
  log(line: string): void;
  report(diags: Diagnostic[]): void;
}

const LOCK_RETRY_MS = 2000;

interface ActiveRun {
  controller: AbortController;
  /** Selected stages that have not ended yet in this run. */
  unfinished: Set<string>;
}

type State =
  | { kind: 'idle' }
  | { kind: 'running'; run: ActiveRun; pending: boolean }
  | { kind: 'cancelling'; run: ActiveRun }
  | { kind: 'stopping'; run: ActiveRun }
  | { kind: 'stopped' };

export class PipelineWatcher {
  private state: State = { kind: 'idle' };
  private fsw: FSWatcher | undefined;
  private watched = new Set<string>();
  private pipeline: Pipeline | undefined;
  private set: WatchSet | undefined;
  private readonly pending = new Set<string>();
  private debounce: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private lastProblem = '';
  private done!: (end: 'stopped' | 'interrupted') => void;
  private readonly finished = new Promise<'stopped' | 'interrupted'>((r) => (this.done = r));
  private readonly file: string;

  constructor(private readonly opts: WatchOptions) {
    this.file = resolve(opts.file);
  }

  /** Watch until `stop` aborts; 'interrupted' when a run had to be stopped for it. */
  async run(): Promise<'stopped' | 'interrupted'> {
    if (this.opts.stop.aborted) return 'stopped';
    this.opts.stop.addEventListener('abort', () => this.stopWatching(), { once: true });
    // The pipeline file first: even when it does not load, fixing it starts the first run.
    this.fsw = watch([this.file], {
      ignoreInitial: true,
      ignored: (p) => this.opts.ignoreUnder.some((d) => p === d || p.startsWith(d + sep)),
    });
    this.fsw.on('all', (_event, path) => this.onPath(resolve(path)));
    this.fsw.on('error', (e) =>
      this.opts.log(`watch: file watching error: ${e instanceof Error ? e.message : String(e)}`),
    );
    this.watched = new Set([this.file]);
    await new Promise<void>((r) => this.fsw!.once('ready', () => r()));
    this.startRun(this.load());
    return this.finished;
  }

  /** Ctrl-C: stop watching; a run in progress sees the same abort and ends first. */
  private stopWatching(): void {
    const s = this.state;
    switch (s.kind) {
      case 'idle':
        void this.close('stopped');
        break;
      case 'running':
      case 'cancelling':
        this.state = { kind: 'stopping', run: s.run };
        this.opts.log('watch: stopping the run, then exiting');
        break;
      case 'stopping':
      case 'stopped':
        break;
      default:
        unreachable(s);
    }
  }

  private onPath(path: string): void {
    if (this.state.kind === 'stopping' || this.state.kind === 'stopped') return;
    if (this.set && isExportTarget(this.set, path)) return; // a run writing its exports
    this.pending.add(path);
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.flush(), this.opts.debounceMs);
  }

  /** A debounced batch of changed paths. */
  private flush(): void {
    const changed = [...this.pending];
    this.pending.clear();
    if (changed.length === 0) return;
    const what = changed.map((p) => relative(process.cwd(), p) || p).join(', ');
    const s = this.state;
    switch (s.kind) {
      case 'idle':
        clearTimeout(this.retry);
        this.opts.log(`watch: changed: ${what}`);
        this.startRun(this.load());
        break;
      case 'running': {
        const next = this.load();
        if (!next) {
          s.pending = true; // after this run, load again (and report again if still broken)
          break;
        }
        const affected = affectedStages(this.pipeline, next, changed, this.set!);
        const hit = [...affected].filter((n) => s.run.unfinished.has(n));
        if (hit.length > 0) {
          this.opts.log(`watch: changed: ${what}: stopping the run to restart ${hit.join(', ')}`);
          this.state = { kind: 'cancelling', run: s.run };
          s.run.controller.abort();
        } else if (affected.size > 0) {
          this.opts.log(`watch: changed: ${what}: ${[...affected].join(', ')} will run again after this run`);
          s.pending = true;
        } else {
          this.opts.log(`watch: changed: ${what}: no stage reads it`);
        }
        break;
      }
      case 'cancelling': // the restart loads everything again anyway
      case 'stopping':
      case 'stopped':
        break;
      default:
        unreachable(s);
    }
  }

  /** Start a run of `pipeline` (freshly loaded), or wait for a fix when it did not load. */
  private startRun(pipeline: Pipeline | undefined): void {
    if (this.state.kind === 'stopped' || this.state.kind === 'stopping') return;
    if (!pipeline) {
      this.state = { kind: 'idle' };
      this.waitForChanges();
      return;
    }
    this.pipeline = pipeline;
    this.set = buildWatchSet(pipeline, new CodeFingerprinter(this.opts.codeFactsFile));
    this.follow(watchedPaths(this.set));
    const selected =
      this.opts.stages.length > 0 ? upstream(pipeline, this.opts.stages) : new Set(pipeline.stages.map((s) => s.name));
    const run: ActiveRun = { controller: new AbortController(), unfinished: selected };
    this.state = { kind: 'running', run, pending: false };
    const onEvent = (e: RunEvent) => {
      if (e.type === 'stage-end') run.unfinished.delete(e.outcome.name);
    };
    this.opts
      .runOnce(pipeline, AbortSignal.any([this.opts.stop, run.controller.signal]), onEvent)
      .catch((e: unknown): WatchRunEnd => {
        this.opts.log(`watch: the run failed unexpectedly: ${e instanceof Error ? e.message : String(e)}`);
        return 'done';
      })
      .then((end) => this.runEnded(end));
  }

  private runEnded(end: WatchRunEnd): void {
    const s = this.state;
    switch (s.kind) {
      case 'stopping':
        void this.close('interrupted');
        break;
      case 'cancelling':
        this.startRun(this.load());
        break;
      case 'running':
        if (s.pending) {
          this.startRun(this.load());
        } else if (end === 'locked') {
          this.state = { kind: 'idle' };
          this.opts.log(`watch: another tailor process holds the cache; trying again in ${LOCK_RETRY_MS / 1000} s`);
          this.retry = setTimeout(() => this.state.kind === 'idle' && this.startRun(this.load()), LOCK_RETRY_MS);
        } else {
          this.state = { kind: 'idle' };
          this.waitForChanges();
        }
        break;
      case 'idle':
      case 'stopped':
        this.opts.log(`watch: internal error: a run ended while the watcher was ${s.kind}`);
        break;
      default:
        unreachable(s);
    }
  }

  private waitForChanges(): void {
    this.opts.log(`watch: waiting for changes to ${this.watched.size} file(s) and folder(s) (Ctrl-C to stop)`);
  }

  /** Load the pipeline; on errors report them (once per distinct problem) and return undefined. */
  private load(): Pipeline | undefined {
    let result: ReturnType<typeof loadPipeline>;
    try {
      // Parsed trees go to this run's cache folder (--cache), never to ./cache.
      const cacheDir = this.opts.cacheDir;
      result = loadPipeline(this.file, {
        sets: this.opts.sets,
        cacheDir: cacheDir !== undefined && existsSync(cacheDir) ? cacheDir : false,
      });
    } catch (e) {
      result = {
        ok: false,
        error: [
          { severity: 'error', message: `cannot load ${this.file}: ${e instanceof Error ? e.message : String(e)}` },
        ],
      };
    }
    if (result.ok) {
      this.lastProblem = '';
      return result.value;
    }
    const problem = JSON.stringify(result.error);
    if (problem !== this.lastProblem) {
      this.opts.report(result.error);
      this.opts.log('watch: the pipeline does not load; fix it and save, watching goes on');
    }
    this.lastProblem = problem;
    return undefined;
  }

  /** Watch exactly `paths` from now on (plus the pipeline file, always). */
  private follow(paths: string[]): void {
    const next = new Set([this.file, ...paths]);
    const added = [...next].filter((p) => !this.watched.has(p));
    const removed = [...this.watched].filter((p) => !next.has(p));
    if (added.length > 0) this.fsw!.add(added);
    if (removed.length > 0) this.fsw!.unwatch(removed);
    this.watched = next;
  }

  private async close(end: 'stopped' | 'interrupted'): Promise<void> {
    if (this.state.kind === 'stopped') return;
    this.state = { kind: 'stopped' };
    clearTimeout(this.debounce);
    clearTimeout(this.retry);
    await this.fsw?.close();
    this.done(end);
  }
}

function unreachable(s: never): never {
  throw new Error(`internal error: unknown watcher state ${JSON.stringify(s)}`);
}
