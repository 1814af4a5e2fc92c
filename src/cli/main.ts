/**
 * tailor's command line: dispatch to one module per command, and the one place where anything
 * thrown becomes a message and an exit code (DVC's single handler): usage errors exit 2 with
 * the command's name, a damaged cache index gives the repair command, a file-system error its
 * one-line cause. Only a genuine bug is an "internal error" (exit 70), its stack behind
 * TAILOR_DEBUG=1.
 */
import { EXIT, UsageError, openedCacheDir } from './common.js';
import { SPECS, type CommandName } from './command-specs.js';
import { wantsHelp } from './options.js';
import { CacheOpenError } from '../cache/index-schema.js';
import { describeError, indexDamageMessage, isIndexDamage } from '../run/describe-error.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Partial<Record<CommandName, () => Promise<Command>>> = {
  run: async () => (await import('./commands/run.js')).runCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  show: async () => (await import('./commands/show.js')).showCommand,
  dag: async () => (await import('./commands/dag.js')).dagCommand,
  gc: async () => (await import('./commands/gc.js')).gcCommand,
  doctor: async () => (await import('./commands/doctor.js')).doctorCommand,
  report: async () => (await import('./commands/report.js')).reportCommand,
  exp: async () => (await import('./commands/exp.js')).expCommand,
  watch: async () => (await import('./commands/watch.js')).watchCommand,
  push: async () => (await import('./commands/push.js')).pushCommand,
  pull: async () => (await import('./commands/pull.js')).pullCommand,
  worker: async () => (await import('./commands/worker.js')).workerCommand,
  verify: async () => (await import('./commands/verify.js')).verifyCommand,
};

const USAGE = `usage: tailor <command> [options]

${Object.keys(COMMANDS)
  .map((name) => `  ${name.padEnd(8)} ${SPECS[name as CommandName].summary}`)
  .join('\n')}

Every command answers --help. Common options: --cache DIR (else $TAILOR_CACHE, else ./cache).
PIPELINE defaults to pipelines/fashion.yaml.
`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest.join(' ') : '';
    if (topic) return main([...topic.split(' '), '--help']);
    process.stdout.write(USAGE);
    return name ? EXIT.ok : EXIT.usage;
  }
  const load = COMMANDS[name as CommandName];
  if (!load) {
    const { suggestName } = await import('./suggest.js');
    process.stderr.write(`tailor: unknown command "${name}"${suggestName(name, Object.keys(COMMANDS))}\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await (
      await load()
    )(rest);
  } catch (err) {
    return report(name, rest, err);
  }
}

/** The message and exit code of anything a command threw. */
function report(name: string, rest: string[], err: unknown): number {
  const sub = name === 'exp' && rest[0] && !rest[0].startsWith('-') ? `${name} ${rest[0]}` : name;
  if (err instanceof UsageError || isParseArgsError(err)) {
    const help = wantsHelp(rest) ? '' : ` (see \`tailor ${sub} --help\`)`;
    process.stderr.write(`tailor ${sub}: ${(err as Error).message}${help}\n`);
    return EXIT.usage;
  }
  if (err instanceof CacheOpenError) {
    const dir = openedCacheDir();
    process.stderr.write(`tailor: ${err.damaged && dir ? indexDamageMessage(dir, err) : err.message}\n`);
    return EXIT.usage;
  }
  if (isIndexDamage(err)) {
    process.stderr.write(`tailor: ${indexDamageMessage(openedCacheDir() ?? './cache', err)}\n`);
    return EXIT.usage;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (/^E[A-Z]+$/.test(code) || code.startsWith('SQLITE_'))) {
    process.stderr.write(`tailor ${sub}: ${describeError(err)}\n`);
    return EXIT.usage;
  }
  const debug = process.env.TAILOR_DEBUG === '1';
  process.stderr.write(
    `tailor ${sub}: internal error: ${debug && err instanceof Error ? (err.stack ?? err.message) : describeError(err)}\n` +
      (debug ? '' : '  (this is a bug in tailor; TAILOR_DEBUG=1 shows where)\n'),
  );
  return 70;
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
