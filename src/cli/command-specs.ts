/**
 * What every command accepts: its usage, a summary, and its option table (options.ts). The
 * parser of each command and `tailor <command> --help` both read these tables, and main.ts lists
 * the summaries, so adding an option here is the only place it is declared.
 */
import type { CommandSpec, OptionTable } from './options.js';

const PIPELINE_DEFAULT = 'PIPELINE is a pipeline YAML file; it defaults to pipelines/fashion.yaml.';

const cache = {
  cache: { type: 'string', value: 'DIR', help: 'cache folder (else $TAILOR_CACHE, else ./cache)' },
} as const satisfies OptionTable;

const set = {
  set: {
    type: 'string',
    multiple: true,
    value: 'STAGE.KEY=VALUE',
    help: 'override a param (or vars.NAME=VALUE) for this command only; the value is read as YAML',
  },
} as const satisfies OptionTable;

const json = { json: { type: 'boolean', help: 'print one JSON object on stdout instead of text' } } as const;

const jobs = { jobs: { type: 'string', value: 'N', help: 'run up to N stages at once (default 2)' } } as const;

const remote = {
  remote: {
    type: 'string',
    value: 'URL',
    help: 'remote cache: s3://BUCKET[/PREFIX] (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ... from the environment) or file:///PATH (else $TAILOR_REMOTE)',
  },
} as const satisfies OptionTable;

const stage = {
  stage: {
    type: 'string',
    multiple: true,
    value: 'NAME',
    help: 'only this stage and the stages it needs (a foreach group name means all of it)',
  },
} as const satisfies OptionTable;

/** Where `tailor run` sends its stages (src/cli/distributed-run.ts); the workers' own options are `worker`'s. */
const distributed = {
  executor: {
    type: 'string',
    value: 'redis://H:P|slurm',
    help: 'run the stages on `tailor worker`s of that Redis, or as Slurm jobs (needs --remote; --jobs defaults to 64); default: here',
  },
  'slurm-partition': { type: 'string', value: 'P', help: 'with --executor slurm: the partition to submit to' },
  'slurm-args': {
    type: 'string',
    value: '"…"',
    help: 'with --executor slurm: more sbatch options, quoted as one argument (no shell syntax)',
  },
} as const satisfies OptionTable;

/** The options of `tailor run`, shared with `exp run`. */
export const RUN_OPTIONS = {
  ...stage,
  force: { type: 'string', multiple: true, value: 'NAME', help: 'run this stage even if its output is up to date' },
  'force-all': { type: 'boolean', help: 'run every selected stage, reusing nothing' },
  ...set,
  'dry-run': { type: 'boolean', help: 'say what would run and why, run nothing' },
  ...jobs,
  json: {
    type: 'boolean',
    help: 'print {"stages":[{"name","action","seconds"}]} on stdout at the end (logs stay on stderr)',
  },
  ...cache,
  ...remote,
  push: { type: 'boolean', help: "with a remote: upload each stage's output as it is committed" },
  wait: {
    type: 'string',
    value: 'SECONDS',
    help: 'wait this long for another run holding the cache lock (default 0: fail at once, exit 3)',
  },
  quiet: { type: 'boolean', help: 'print only failures and notices' },
  report: { type: 'boolean', help: 'write the HTML report (outputs/NAME-report.html) after the run' },
  'overwrite-exports': {
    type: 'boolean',
    help: 'replace export targets that were edited since tailor wrote them (by default they are kept)',
  },
} as const satisfies OptionTable;

export const SPECS = {
  run: {
    name: 'run',
    args: '[PIPELINE]',
    summary: 'bring a pipeline up to date: run the stale stages, reuse everything else from the cache',
    details: [
      PIPELINE_DEFAULT,
      'Exit codes: 0 ok, 1 a stage failed, 2 usage, pipeline or cache error, 3 the cache is locked by another run, 130 interrupted.',
      'With --executor the plan is made here and each ready stage goes to a worker (or a Slurm job); outputs move through --remote, keys and outputs are those of a local run, and --json names the worker of each stage. Ctrl-C cancels the queued and running jobs.',
    ],
    options: { ...RUN_OPTIONS, ...distributed },
  },
  status: {
    name: 'status',
    args: '[PIPELINE]',
    summary: 'say which stages are fresh, stale or never run, and why, in words; runs nothing',
    details: [PIPELINE_DEFAULT],
    options: {
      ...set,
      json: {
        type: 'boolean',
        help: 'print {"stages":[{"name","state","reasons"}]} (with --remote, "remote" per stage)',
      },
      ...cache,
      ...remote,
    },
  },
  show: {
    name: 'show',
    args: '[PIPELINE] STAGE',
    summary: "print a stage's latest output folder, its key and metrics, or why it has none",
    details: [PIPELINE_DEFAULT],
    options: { json: { type: 'boolean', help: 'print {"stage","out","metrics"}' }, ...cache, ...set },
  },
  dag: {
    name: 'dag',
    args: '[PIPELINE]',
    summary: "print the pipeline's graph",
    details: [PIPELINE_DEFAULT],
    options: {
      format: { type: 'string', value: 'FORMAT', default: 'text', help: 'text, mermaid or dot' },
      ...set,
      cache: { type: 'string', value: 'DIR', help: 'accepted like on every command; the graph needs no cache' },
    },
  },
  gc: {
    name: 'gc',
    args: '',
    summary: 'remove cache entries that no pipeline, lock file or recent run uses',
    options: {
      'dry-run': { type: 'boolean', help: 'say what would be removed, remove nothing' },
      'keep-runs': {
        type: 'string',
        value: 'N',
        default: '20',
        help: 'keep the outputs of the N most recent runs',
      },
      ...cache,
      json: { type: 'boolean', help: 'print the counts as JSON' },
      remote: {
        type: 'string',
        value: 'URL',
        help: 'clean this remote cache instead: records, then manifests, then blobs no kept output uses',
      },
      grace: {
        type: 'string',
        value: 'DURATION',
        help: 'with --remote: keep anything younger than this (default 1h), so a push in progress is safe',
      },
    },
  },
  doctor: {
    name: 'doctor',
    args: '',
    summary: "check the ML backend, versions and the cache's health (exit 1 when something is wrong)",
    options: {
      json: { type: 'boolean', help: 'print the findings as JSON' },
      ...cache,
      'repair-index': {
        type: 'boolean',
        help: 'rebuild a damaged index.sqlite from the rows still readable (the damaged file is kept beside it)',
      },
      deep: {
        type: 'boolean',
        help: "rehash every object's bytes (ignoring the stat cache) and drop bad objects with their records",
      },
      'dry-run': { type: 'boolean', help: 'with --deep: report bad objects, remove nothing' },
    },
  },
  report: {
    name: 'report',
    args: '[PIPELINE]',
    summary: 'write one self-contained HTML page about the last run',
    details: [PIPELINE_DEFAULT],
    options: {
      out: { type: 'string', value: 'FILE', help: 'where to write it (default outputs/NAME-report.html)' },
      ...cache,
      ...set,
      metric: { type: 'string', value: 'STAGE.PATH', help: 'the metric to compare experiment runs by' },
    },
  },
  exp: {
    name: 'exp',
    args: 'run|show|diff|apply|remove|queue',
    summary: 'experiments: runs with overrides and sweeps, recorded and compared over one shared cache',
    details: [
      'tailor exp run [PIPELINE] [--name N] [--set S.K=V1,V2]...   run a variant, or sweep a grid of them',
      'tailor exp show [PIPELINE]                                 the baseline and every experiment, as differences',
      'tailor exp diff A [B]                                      old → new params, keys and metrics',
      'tailor exp apply NAME                                      write its params into the pipeline YAML',
      'tailor exp remove NAME...                                  forget experiments',
      'tailor exp queue ...                                       queue experiments, run the queue',
      'The baseline is the last plain `tailor run` of the pipeline. Each subcommand answers --help.',
    ],
    options: {},
  },
  'exp run': {
    name: 'exp run',
    args: '[PIPELINE]',
    summary: 'run the pipeline with overrides as a named experiment; comma lists sweep the grid',
    details: [
      PIPELINE_DEFAULT,
      "A --set value with commas is a sweep: --set 'train-head.dropout=0.3,0.5' --set 'train-head.lr=1e-3,3e-4' runs 4 experiments, one after another, first --set slowest; stages they share run once (the cache serves the rest).",
      "A comma that is part of one value: quote the value (--set 'b.text=\"a,b\"'), put a list in brackets (--set 'b.sizes=[1,2],[3]' is two values), or escape it (a\\,b).",
      'Names: --name N for one experiment; in a sweep N is the prefix (N-dropout=0.3-lr=1e-3); without --name the values name it. `baseline` is reserved for the last plain run.',
      'Experiments do not write export: targets (a sweep would leave the last one there); --export writes them for a single experiment, `tailor exp apply` + `tailor run` does for good. The lock file is never touched.',
    ],
    options: {
      name: { type: 'string', value: 'NAME', help: 'the experiment name, or the name prefix of a sweep' },
      export: { type: 'boolean', help: "write this experiment's export: targets into the workspace (not in a sweep)" },
      ...RUN_OPTIONS,
    },
  },
  'exp show': {
    name: 'exp show',
    args: '[PIPELINE]',
    summary: 'the baseline and one row per experiment: changed params and headline metrics as differences',
    details: [
      'Params equal to the baseline read ·; metrics carry their delta from the baseline; * marks the best value of each column. Columns are named by stage and metric and the table fits the terminal (else $COLUMNS).',
    ],
    options: {
      'only-changed': {
        type: 'boolean',
        help: 'only params that differ somewhere, headline metrics only (the default)',
      },
      all: { type: 'boolean', help: 'every param and every metric' },
      columns: {
        type: 'string',
        value: 'LIST',
        help: 'only these columns, comma-separated (short title, full key, or a part of it)',
      },
      'sort-by': { type: 'string', value: 'COLUMN', help: 'sort experiments by a column (metrics best first)' },
      width: { type: 'string', value: 'N', help: 'fit the table in N characters (default: the terminal)' },
      ...json,
      csv: { type: 'boolean', help: 'print CSV (full values)' },
      md: { type: 'boolean', help: 'print a Markdown table' },
      html: { type: 'string', value: 'FILE', help: 'write a self-contained HTML page: table and charts' },
      metric: { type: 'string', multiple: true, value: 'TEXT', help: 'show only metric columns containing TEXT' },
      name: { type: 'string', multiple: true, value: 'NAME', help: 'only experiments with this name' },
      last: { type: 'string', value: 'N', help: 'only the N most recent experiment runs' },
      ...cache,
    },
  },
  'exp diff': {
    name: 'exp diff',
    args: 'A [B]',
    summary: 'old → new: changed params, changed stage keys and metric deltas between two runs',
    details: [
      'A and B are experiment names (their latest run), run ids written #12, or baseline (the last plain run). With one argument, the baseline is A.',
    ],
    options: { ...json, ...cache },
  },
  'exp apply': {
    name: 'exp apply',
    args: 'NAME',
    summary: "write an experiment's --set values into its pipeline YAML (comments and layout kept)",
    details: [
      'Values already in the file are replaced where they stand; keys the file lacks are added. The next plain `tailor run` is then that experiment, its outputs served from the cache.',
    ],
    options: {
      'dry-run': { type: 'boolean', help: 'say what would change, write nothing' },
      ...json,
      ...cache,
    },
  },
  'exp remove': {
    name: 'exp remove',
    args: 'NAME...',
    summary: 'forget every recorded run of these experiments (outputs stay in the cache until gc)',
    options: { ...json, ...cache },
  },
  'exp queue': {
    name: 'exp queue',
    args: '[PIPELINE] --name NAME | --run | --cancel ID',
    summary: 'add an experiment to the queue, list the queue, or run what is queued one after another',
    details: [
      PIPELINE_DEFAULT,
      '--set comma lists queue one entry per point of the grid, named as exp run names them.',
    ],
    options: {
      name: { type: 'string', value: 'NAME', help: 'the experiment to queue' },
      ...set,
      ...jobs,
      run: { type: 'boolean', help: 'run the queued experiments in turn, oldest first' },
      follow: { type: 'boolean', help: 'with --run: keep waiting for new entries when the queue is empty' },
      cancel: { type: 'string', value: 'ID', help: 'remove a queued entry' },
      ...json,
      ...cache,
    },
  },
  watch: {
    name: 'watch',
    args: '[PIPELINE]',
    summary: 'run, then rerun the stale stages whenever the pipeline, stage code or deps change',
    details: [PIPELINE_DEFAULT, 'A stage whose inputs change while it runs is stopped and started again.'],
    options: {
      ...set,
      ...stage,
      ...jobs,
      ...cache,
      debounce: {
        type: 'string',
        value: 'MS',
        help: 'wait this many milliseconds of quiet after a change before acting (default 200)',
      },
      quiet: { type: 'boolean', help: 'print only failures and notices' },
    },
  },
  push: {
    name: 'push',
    args: '[PIPELINE]',
    summary: "upload each stage's latest output and its key's record to a remote cache",
    details: [
      PIPELINE_DEFAULT,
      'Blobs go first, then the tree manifest, then the record: a push killed midway leaves nothing a pull would take. What the remote has already is skipped.',
    ],
    options: {
      ...stage,
      ...remote,
      ...cache,
      jobs: { type: 'string', value: 'N', help: 'transfer up to N files at once (default 8)' },
      ...json,
    },
  },
  pull: {
    name: 'pull',
    args: '[PIPELINE]',
    summary: "download the outputs of the stages' current keys from a remote cache into this one",
    details: [
      PIPELINE_DEFAULT,
      'Keys are computed here, upstream first; every download is hash-checked before it is registered. A missing or damaged remote object is a miss (the stage will run), never a wrong output.',
    ],
    options: {
      ...stage,
      ...remote,
      ...cache,
      jobs: { type: 'string', value: 'N', help: 'transfer up to N files at once (default 8)' },
      ...json,
      wait: {
        type: 'string',
        value: 'SECONDS',
        help: 'wait this long for another run holding the cache lock (default 0)',
      },
    },
  },
  verify: {
    name: 'verify',
    args: '[PIPELINE]',
    summary: 'rerun from scratch in a temporary cache and compare every stage with the lock file',
    details: [
      PIPELINE_DEFAULT,
      'Deterministic stages must give the same bytes, the others metrics within the tolerances in the YAML. Exit 0 when everything matches, 1 on a mismatch, 2 when there is no lock file, 130 when interrupted.',
    ],
    options: {
      ...stage,
      ...jobs,
      ...json,
      all: { type: 'boolean', help: 'list every check, not only the failing ones' },
      keep: { type: 'boolean', help: 'keep the temporary cache and say where it is' },
      cache: { type: 'string', value: 'DIR', help: 'your cache, only read: explains why a key changed' },
      remote: {
        type: 'string',
        value: 'URL',
        help: 'restore the stages this remote cache has (hash-checked) instead of recomputing them, then compare all (else $TAILOR_REMOTE)',
      },
    },
  },
  worker: {
    name: 'worker',
    args: '',
    summary: 'run stages of distributed runs on this machine (a BullMQ worker, or one Slurm job file)',
    details: [
      'tailor worker --executor redis://HOST:PORT --remote URL: a long-running worker. Ctrl-C once: finish the running stages, then stop; twice: stop them now and hand their jobs back to the queue; three times: exit at once.',
      "tailor worker --job FILE --remote URL: run one job file and write FILE's .result.json (what a Slurm job script runs); SIGTERM (scancel) stops the stage.",
      'A stage asking for GPUs goes only to a worker with that many free GPU tokens; each job gets its own CUDA_VISIBLE_DEVICES.',
    ],
    options: {
      executor: { type: 'string', value: 'redis://HOST:PORT', help: 'the Redis of the run queues' },
      ...remote,
      gpus: {
        type: 'string',
        value: 'N',
        help: 'GPU tokens this worker offers, one stage per GPU (default: $TAILOR_GPUS, else nvidia-smi)',
      },
      concurrency: { type: 'string', value: 'N', help: 'stages at once (default: the GPU count, at least 1)' },
      cache: { type: 'string', value: 'DIR', help: "this worker's own cache (else $TAILOR_CACHE, else ./cache)" },
      workdir: {
        type: 'string',
        value: 'DIR',
        help: "where the pipeline's working folder is on this machine (default: the run's path)",
      },
      job: { type: 'string', value: 'FILE', help: 'run one job file (a Slurm job script does this)' },
    },
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof SPECS;
