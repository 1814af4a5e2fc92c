/** tailor's command line: dispatch to one module per command. */
import { EXIT, UsageError } from './common.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  run: {
    load: async () => (await import('./commands/run.js')).runCommand,
    summary:
      'run stale stages [PIPELINE] [--stage N] [--force N|--force-all] [--set S.K=V] [--dry-run] [--jobs N] [--json]',
  },
  status: {
    load: async () => (await import('./commands/status.js')).statusCommand,
    summary: 'explain which stages are stale and why [--json]',
  },
  show: {
    load: async () => (await import('./commands/show.js')).showCommand,
    summary: "a stage's output folder and metrics [PIPELINE] STAGE [--json]",
  },
  dag: {
    load: async () => (await import('./commands/dag.js')).dagCommand,
    summary: 'print the graph [--format text|mermaid|dot]',
  },
  gc: {
    load: async () => (await import('./commands/gc.js')).gcCommand,
    summary: 'remove cache entries no pipeline, lock file or recent run uses [--dry-run]',
  },
  doctor: {
    load: async () => (await import('./commands/doctor.js')).doctorCommand,
    summary: 'backend, versions and cache health',
  },
  report: {
    load: async () => (await import('./commands/report.js')).reportCommand,
    summary: 'write a self-contained HTML report of the last run [PIPELINE] [--out FILE] [--metric STAGE.PATH]',
  },
  exp: {
    load: async () => (await import('./commands/exp.js')).expCommand,
    summary: 'experiments: run --name N [--set S.K=V] | show [--all] [--json|--csv] | diff A B | queue [--run]',
  },
  watch: {
    load: async () => (await import('./commands/watch.js')).watchCommand,
    summary: 'rerun stale stages whenever the pipeline, stage code or deps change [--set S.K=V] [--stage N]',
  },
  worker: {
    load: async () => (await import('./commands/worker.js')).workerCommand,
    summary: 'run stages of distributed runs: --executor redis://HOST:PORT --remote URL [--gpus N] [--concurrency N]',
  },
  verify: {
    load: async () => (await import('./commands/verify.js')).verifyCommand,
    summary: 'rerun from scratch in a temp cache and compare with the lock file [--stage N] [--json]',
  },
};

const USAGE = `usage: tailor <command> [options]

${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

Common options: --cache DIR (else $TAILOR_CACHE, else ./cache). PIPELINE defaults to pipelines/fashion.yaml.
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    const { suggestName } = await import('./suggest.js');
    process.stderr.write(`tailor: unknown command "${name}"${suggestName(name, Object.keys(COMMANDS))}\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await (
      await command.load()
    )(rest);
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      process.stderr.write(`tailor ${name}: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
