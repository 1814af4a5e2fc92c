/**
 * Option tables: each command declares its options once — type, value placeholder, what it
 * does — and both the parser (node:util parseArgs) and `tailor <command> --help` are made from
 * that one table, so help cannot drift from what is accepted.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  default?: string | boolean;
  /** The value's placeholder in help: `--jobs N`. */
  value?: string;
  /** What the option does, in a line. */
  help: string;
}

export type OptionTable = Record<string, OptionSpec>;

export interface CommandSpec<O extends OptionTable = OptionTable> {
  /** `run`, or `exp run` for a subcommand. */
  name: string;
  /** What follows the name in the usage line: `[PIPELINE] STAGE`. */
  args: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs of help after the usage line. */
  details?: string[];
  options: O;
}

export type OptionValues<O extends OptionTable> = ReturnType<
  typeof parseArgs<{ options: O; allowPositionals: true }>
>['values'];

export type ParsedCommand<O extends OptionTable> =
  { help: true } | { help: false; values: OptionValues<O>; positionals: string[] };

/** Whether argv asks for help (before any `--`). */
export function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Parse argv with a command's table; `--help`/`-h` anywhere wins. Throws parseArgs' own errors. */
export function parseCommand<O extends OptionTable>(spec: CommandSpec<O>, argv: string[]): ParsedCommand<O> {
  if (wantsHelp(argv)) return { help: true };
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: spec.options });
  return { help: false, values, positionals };
}

/** `tailor <name> --help`, from the table. */
export function formatHelp(spec: CommandSpec): string {
  const entries = Object.entries(spec.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    const extra = [o.multiple ? 'repeatable' : '', o.default !== undefined ? `default ${String(o.default)}` : '']
      .filter(Boolean)
      .join('; ');
    return { flag, help: extra ? `${o.help} (${extra})` : o.help };
  });
  entries.push({ flag: '-h, --help', help: 'show this help' });
  const width = Math.min(30, Math.max(...entries.map((e) => e.flag.length)));
  const lines = [`usage: tailor ${spec.name}${spec.args ? ` ${spec.args}` : ''} [options]`, '', spec.summary];
  for (const p of spec.details ?? []) lines.push('', p);
  lines.push('', 'options:');
  for (const e of entries) {
    const pad = e.flag.length > width ? `\n${' '.repeat(width + 4)}` : ' '.repeat(width - e.flag.length + 2);
    lines.push(`  ${e.flag}${pad}${e.help}`);
  }
  return lines.join('\n') + '\n';
}
