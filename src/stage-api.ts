/**
 * The stage API: what a stage module exports and what it receives.
 *
 * A stage module is a TypeScript file whose default export is `defineStage({...})`.
 * The engine validates `params` against the module's JSON Schema before anything runs,
 * then calls `run(ctx)` in a child process with a fresh, empty `ctx.out` folder.
 */

/** Bumped when the meaning of ctx or the output contract changes; part of every stage key. */
export const STAGE_API_VERSION = 1;

/** A JSON Schema object (draft 2020-12 subset understood by ajv). */
export type JsonSchema = Record<string, unknown>;

export interface StageContext<P = Record<string, unknown>> {
  /** Stage name as written in the pipeline (after foreach expansion, e.g. `train-head@mobilenet_v2`). */
  readonly stage: string;
  /** Params after templating, `--set` overrides and schema defaults. */
  readonly params: P;
  /** Upstream output folders by stage name (read-only). Foreach groups appear per expanded name. */
  readonly needs: Readonly<Record<string, string>>;
  /** Empty folder to write outputs into; committed to the cache only if `run` resolves. */
  readonly out: string;
  /**
   * Persistent per-stage folder that survives across runs (not part of the stage key).
   * For item-level incrementality: keep per-item results here keyed by content, then
   * hard-link or reference them from `out`.
   */
  readonly state: string;
  /** Working folder of the pipeline (where `deps` and user paths are resolved). */
  readonly workdir: string;
  /** Seed for every random choice the stage makes (pipeline `seed`, stage `seed`, or 0). */
  readonly seed: number;
  /** Aborted on Ctrl-C, on a watch-mode restart, or when the engine stops the stage. */
  readonly signal: AbortSignal;
  /** Log a line (goes to the terminal and to the run's log file). */
  log(message: string): void;
  /** Report progress; the engine shows a bar with rate and ETA. */
  progress(done: number, total: number, label?: string): void;
  /** Merge metrics into the stage's `metrics.json` (written when the stage succeeds). */
  metrics(values: Record<string, unknown>): void;
}

export interface StageDefinition<P = Record<string, unknown>> {
  /** JSON Schema for params: `{ type: 'object', properties: {...}, additionalProperties: false }`. */
  readonly params: JsonSchema;
  /** Short description shown by `tailor dag` and errors. */
  readonly description?: string;
  /**
   * True when the same inputs and seed give byte-identical outputs on this backend
   * (`tailor verify` then compares output hashes, otherwise metrics within tolerance).
   */
  readonly deterministic?: boolean;
  run(ctx: StageContext<P>): Promise<void>;
}

/** Declare a stage module. Identity at run time; exists for typing and future checks. */
export function defineStage<P = Record<string, unknown>>(def: StageDefinition<P>): StageDefinition<P> {
  return def;
}
