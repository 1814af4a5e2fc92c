/** The resolved pipeline: what the loader hands to the engine. */

/** A position in a source file (1-based line and column). */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
  /** Length of the underlined range (0 = a single caret). */
  length?: number;
  /** The source line itself when it is not in a file on disk (e.g. a `--set` argument, file `--set`). */
  text?: string;
}

/** A user-facing error or warning, printed as `file:line:col message` with an underline. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  message: string;
  /** Dotted key path such as `stages.pad.params.size`, when the error is about a key. */
  key?: string;
  pos?: SourcePos;
  /** Extra positions (e.g. every edge of a cycle). */
  related?: Array<{ message: string; pos: SourcePos }>;
  /** "did you mean …" style hint. */
  hint?: string;
}

export interface StageSpec {
  /** Unique name after foreach expansion: `train-head@mobilenet_v2`. */
  name: string;
  /** Name of the foreach group this stage was expanded from (same as name when not expanded). */
  group: string;
  kind: 'module' | 'cmd';
  /** Absolute path of the stage module (kind 'module'). */
  module?: string;
  /** Whether `uses` named a built-in stage. */
  builtin?: boolean;
  /** Shell command after templating, with `${out}`/`${needs.X}` left for the runner (kind 'cmd'). */
  cmd?: string;
  /** Expanded upstream stage names (a foreach group name expands to all its members). */
  needs: string[];
  /** Workspace files/folders (paths relative to workdir, as written). */
  deps: string[];
  /** Params after vars templating and --set overrides (no schema defaults). */
  params: Record<string, unknown>;
  /** Copy outputs into the workspace after success: output-relative path -> workspace path. */
  export: Record<string, string>;
  resources: { gpu: number };
  /** Seed for the stage (stage `seed`, else pipeline `seed`, else 0). */
  seed: number;
  /** YAML `shards: N` (N > 1): the loader expands the stage into N shards and an assemble stage. */
  shards?: number;
  /** Wall-clock limit of one run of the stage, in seconds (YAML `timeout: 30m`); none when absent. */
  timeoutSeconds?: number;
  /** Per-metric absolute tolerances for `tailor verify`, dotted metric path -> tolerance. */
  verify?: { deterministic?: boolean; tolerance?: Record<string, number> };
  /** Where the stage is defined, and where each of its keys is (for errors raised later). */
  pos: SourcePos;
  keyPos: Record<string, SourcePos>;
  /** Where each key's value is, same keys as keyPos (`params.size` -> the `224`), for type errors. */
  valuePos?: Record<string, SourcePos>;
  /** The stage's `description`, if any. */
  description?: string;
  /** The foreach item this stage was expanded from (undefined when not expanded). */
  item?: unknown;
}

export interface Pipeline {
  /** Absolute path of the YAML file. */
  file: string;
  /**
   * The pipeline's identity in the cache index (latest outputs, run history, `exp show`): its path
   * from the working folder, `pipelines/fashion.yaml`, so `one/train.yaml` and `two/train.yaml` never
   * share rows. (Rows recorded under a bare name by an older tailor are adopted: index-db.ts.)
   */
  name: string;
  /** File name without `.yaml`, for people and file names: `fashion`. */
  displayName: string;
  /** Working folder: where tailor runs; deps, uses and export paths are relative to it. */
  workdir: string;
  vars: Record<string, unknown>;
  /** Stages in a topological order (ties broken by order in the file). */
  stages: StageSpec[];
  /** Files whose content defines this pipeline (the YAML and any `extends` parents), for watch mode. */
  sources: string[];
  /** The pipeline's `description`, if any. */
  description?: string;
  /** The metric the run summary puts forward (YAML `headline:`; see headline.ts for the default). */
  headline?: Headline;
}

/** A metric a pipeline puts forward: where it is in a stage's metrics.json and what to call it. */
export interface Headline {
  /** Dotted path into metrics.json: `holdout.micro_f1`. */
  metric: string;
  /** What to call it: `holdout micro-F1`. */
  label: string;
  /** A reference value one stage records, printed under the summary (a baseline score). */
  baseline?: { metric: string; label: string };
}
