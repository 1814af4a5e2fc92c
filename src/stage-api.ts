/**
 * The stage API: what a stage module exports and what it receives.
 *
 * A stage module is a TypeScript file whose default export is `defineStage({...})`. It comes in
 * two forms:
 *
 * - a definition with a lazy implementation, `defineStage({ params, load: () => import('./impl/x.js') })`:
 *   the engine reads `params`, `description` and `deterministic` in its own process without
 *   loading the implementation (and whatever heavy packages it imports: tfjs, sharp), and the
 *   stage's child process loads it to run;
 * - everything in one module, `defineStage({ params, run(ctx) {...} })`: simple, and fine while
 *   the module imports nothing heavy at its top.
 *
 * The engine validates `params` against the JSON Schema before anything runs, then calls the
 * stage's run function in a child process with a fresh, empty `ctx.out` folder.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

/** Bumped when the meaning of ctx or the output contract changes; part of every stage key. */
export const STAGE_API_VERSION = 1;

/** A JSON Schema object (draft 2020-12 subset understood by ajv). */
export type JsonSchema = Record<string, unknown>;

/**
 * The params type a JSON Schema describes (after ajv filled the defaults in: a property with a
 * `default` is always present). Write the schema `as const`:
 * `const params = { type: 'object', properties: {...} } as const; type P = ParamsOf<typeof params>`.
 */
export type ParamsOf<S extends JSONSchema> = FromSchema<S>;

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
   * For item-level incrementality: keep per-item results here keyed by content and `codeKey`,
   * then hard-link or reference them from `out`.
   */
  readonly state: string;
  /**
   * Hash of the stage's code: its module, every local module it imports (transitively) and the
   * versions of the packages they import — the code part of the stage key. Put it into the key
   * of every item cache, checkpoint or other state kept in `state`, so that a code change never
   * serves results the old code computed.
   */
  readonly codeKey: string;
  /** Working folder of the pipeline (where `deps` and user paths are resolved). */
  readonly workdir: string;
  /** Seed for every random choice the stage makes (pipeline `seed`, stage `seed`, or 0). */
  readonly seed: number;
  /** Aborted on Ctrl-C, on a watch-mode restart, or when the engine stops the stage. */
  readonly signal: AbortSignal;
  /** Log a line (goes to the terminal and to the run's log file). */
  log(message: string): void;
  /** Report progress; the engine shows a bar with rate and ETA (stages print no ETA of their own). */
  progress(done: number, total: number, label?: string): void;
  /** Merge metrics into the stage's `metrics.json` (written when the stage succeeds). */
  metrics(values: Record<string, unknown>): void;
}

/** A stage's work: resolves when `ctx.out` is complete. */
export type StageRun<P = Record<string, unknown>> = (ctx: StageContext<P>) => Promise<void>;

/** What an implementation module loaded by `load` exports: its run function as the default export. */
export interface StageImplementation<P = Record<string, unknown>> {
  default: StageRun<P>;
}

interface StageDeclaration {
  /** JSON Schema for params: `{ type: 'object', properties: {...}, additionalProperties: false }`. */
  readonly params: JsonSchema;
  /** Short description shown by `tailor dag` and errors. */
  readonly description?: string;
  /**
   * True when the same inputs and seed give byte-identical outputs on this backend
   * (`tailor verify` then compares output hashes, otherwise metrics within tolerance).
   */
  readonly deterministic?: boolean;
}

/** A stage whose run function is in the same module. */
export interface InlineStageDefinition<P = Record<string, unknown>> extends StageDeclaration {
  run: StageRun<P>;
  readonly load?: undefined;
}

/** A stage whose implementation is loaded only where it runs (the stage's child process). */
export interface LazyStageDefinition<P = Record<string, unknown>> extends StageDeclaration {
  /** `() => import('./impl/my-stage.js')`: a module whose default export is the run function. */
  readonly load: () => Promise<StageImplementation<P>>;
  readonly run?: undefined;
}

export type StageDefinition<P = Record<string, unknown>> = InlineStageDefinition<P> | LazyStageDefinition<P>;

/** Declare a stage module. Identity at run time; exists for typing. */
export function defineStage<P = Record<string, unknown>>(def: StageDefinition<P>): StageDefinition<P> {
  return def;
}
