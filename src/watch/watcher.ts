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
 * Each run goes through `runPipelineRequest`, which takes and releases the cache lock, so the
 * cache is consistent between runs and after Ctrl-C (an interrupted stage commits nothing).
 * Only stale stages run: everything else is found in the cache. A broken pipeline file is
 * reported with its position and the watch goes on over the last good pipeline's files.
 */
import { existsSync } from 'node:fs';
import { resolve, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { EXIT } from '../cli/common.js';
import type { RunRequest } from '../cli/commands/run.js';
import { loadPipeline } from '../pipeline/load.js';
import { upstream } from '../pipeline/dag.js';
import type { Diagnostic, Pipeline } from '../pipeline/types.js';
import { CodeFingerprinter } from '../run/code-fingerprint.js';
import { cacheDirFrom } from '../run/session.js';
import { affectedStages } from './affected.js';
import { buildWatchSet, isExportTarget, watchedPaths, type WatchSet } from './watch-set.js';

/** Starts one pipeline run; the watcher owns nothing else about running. */
export type RunPipeline = (req: RunRequest) => Promise<{ code: number }>;

export interface WatchOptions {
  /** Run options (file, sets, stages, jobs, cache, ...); signal and onEvent are the watcher's. */
  request: RunRequest;
  runPipeline: RunPipeline;
  /** Quiet period after the last file event before acting (ms). */
  debounceMs: number;
  /** Where parsed code facts are cached (read only here: runs keep it up to date). */
  codeFactsFile?: string;
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
  private done!: (code: number) => void;
  private readonly finished = new Promise<number>((r) => (this.done = r));
  private readonly file: string;

  constructor(private readonly opts: WatchOptions) {
    this.file = resolve(opts.request.file);
  }

  /** Watch until stop(); resolves with the exit code (0, or 130 when a run had to be interrupted). */
  async run(): Promise<number> {
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

  /** True while a run is in progress (running, cancelling or stopping). */
  get busy(): boolean {
    return this.state.kind === 'running' || this.state.kind === 'cancelling' || this.state.kind === 'stopping';
  }

  /** Ctrl-C: stop watching; a run in progress is interrupted first (a second Ctrl-C forces). */
  stop(): void {
    const s = this.state;
    switch (s.kind) {
      case 'idle':
        void this.close(EXIT.ok);
        break;
      case 'running':
      case 'cancelling':
        this.state = { kind: 'stopping', run: s.run };
        this.opts.log('watch: stopping the run, then exiting');
        // run.ts's own signal handler aborts the run on Ctrl-C; deferring ours keeps it from
        // seeing an already aborted run and taking that for a second Ctrl-C.
        setImmediate(() => s.run.controller.abort());
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
    if (!pipeline) {
      this.state = { kind: 'idle' };
      this.waitForChanges();
      return;
    }
    this.pipeline = pipeline;
    this.set = buildWatchSet(pipeline, new CodeFingerprinter(this.opts.codeFactsFile));
    this.follow(watchedPaths(this.set));
    const req = this.opts.request;
    const selected =
      req.stages.length > 0 ? upstream(pipeline, req.stages) : new Set(pipeline.stages.map((s) => s.name));
    const run: ActiveRun = { controller: new AbortController(), unfinished: selected };
    this.state = { kind: 'running', run, pending: false };
    const onEvent: RunRequest['onEvent'] = (e) => {
      if (e.type === 'stage-end') run.unfinished.delete(e.outcome.name);
    };
    this.opts
      .runPipeline({ ...req, signal: run.controller.signal, onEvent })
      .then(
        (r) => r.code,
        (e: unknown) => {
          this.opts.log(
            `watch: the run failed unexpectedly: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
          );
          return 1;
        },
      )
      .then((code) => this.runEnded(code));
  }

  private runEnded(code: number): void {
    const s = this.state;
    switch (s.kind) {
      case 'stopping':
        void this.close(EXIT.interrupted);
        break;
      case 'cancelling':
        this.startRun(this.load());
        break;
      case 'running':
        if (s.pending) {
          this.startRun(this.load());
        } else if (code === EXIT.locked) {
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
      // harden-input: parsed trees go to this run's cache folder (--cache), never to ./cache.
      const cacheDir = cacheDirFrom(this.opts.request.cache, process.cwd());
      result = loadPipeline(this.file, {
        sets: this.opts.request.sets,
        cacheDir: existsSync(cacheDir) ? cacheDir : false,
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

  private async close(code: number): Promise<void> {
    if (this.state.kind === 'stopped') return;
    this.state = { kind: 'stopped' };
    clearTimeout(this.debounce);
    clearTimeout(this.retry);
    await this.fsw?.close();
    this.done(code);
  }
}

function unreachable(s: never): never {
  throw new Error(`internal error: unknown watcher state ${JSON.stringify(s)}`);
}
