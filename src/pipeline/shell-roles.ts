/**
 * What a word of a shell command is to the program that receives it, judged from the words before
 * it in the same simple command: plain data (an argument), a script that another shell will parse
 * (`sh -c '…'`, `eval`, `trap`), program text of another language (`python3 -c`, `awk`, `sed`,
 * `make X=…`), or an argument handed to a shell tailor cannot follow (`ssh`, `su`).
 *
 * Why it matters: a value handed over as an environment variable is safe wherever the shell that
 * expands it is the last one to parse the text; inside a script for a second shell the reference
 * must reach that shell unexpanded, and inside another language's program text no quoting makes a
 * string safe. The tables are deliberately short and documented in the README; a command word that
 * is not literal (`$SHELL -c`) followed by `-c` is taken for a shell.
 */

export type Role =
  | { kind: 'data' }
  | { kind: 'script' }
  | { kind: 'program'; what: string }
  | { kind: 'forbid'; what: string }
  | { kind: 'numeric'; what: string }
  | { kind: 'refuse'; why: string };

const DATA: Role = { kind: 'data' };
const SCRIPT: Role = { kind: 'script' };

const SHELLS = new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'ksh93',
  'mksh',
  'pdksh',
  'lksh',
  'oksh',
  'ash',
  'yash',
  'posh',
  'rbash',
]);
/** Programs whose arguments reach a shell tailor's variables do not reach, or one with other quoting. */
const FORBID = new Set(['ssh', 'rsh', 'su', 'runuser', 'parallel', 'fish', 'csh', 'tcsh', 'pwsh', 'powershell']);
/** Words that open a compound command and are not the command itself. */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{', 'time']);
/** Interpreters and the options after which their program text comes. */
const INLINE: Array<{ name: RegExp; option: RegExp }> = [
  { name: /^(python[0-9.]*|pypy[0-9.]*)$/, option: /^-[a-zA-Z]*c$/ },
  { name: /^(perl|ruby)$/, option: /^-[a-zA-Z]*[eE]$/ },
  { name: /^(node|nodejs|deno|bun)$/, option: /^(-e|--eval|-p|--print)$/ },
  { name: /^php$/, option: /^-r$/ },
  { name: /^(Rscript|R|lua|osascript)$/, option: /^-e$/ },
];
/** Options of awk and sed that take a value in the next word. */
const AWK_VALUE = new Set(['-F', '-v', '-f', '-e', '--file', '--source']);
const SED_VALUE = new Set(['-e', '-f', '-l', '--expression', '--file']);

/** Command name as written, without its folder (`/usr/bin/bash` -> `bash`). */
function base(word: string | null): string | null {
  return word === null ? null : word.slice(word.lastIndexOf('/') + 1);
}

/** The words that are arguments: leading `NAME=value` assignments and reserved words dropped. */
export function commandWords(words: ReadonlyArray<string | null>): Array<string | null> {
  let k = 0;
  while (k < words.length) {
    const w = words[k] ?? null;
    if (w !== null && (RESERVED.has(w) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(w))) k++;
    else break;
  }
  return words.slice(k);
}

/** After a shell's name: is the next word its `-c` script? (`sh -ec 'script' name args…`) */
function shellArgument(after: ReadonlyArray<string | null>): Role {
  let c = false;
  let value = false;
  for (const a of after) {
    if (value) {
      value = false;
      continue;
    }
    if (a === null) return DATA;
    if (a === '--') continue;
    if (/^[-+][oO]$/.test(a) || a === '--rcfile' || a === '--init-file') value = true;
    else if (/^[-+][a-zA-Z]+$/.test(a)) c ||= a.startsWith('-') && a.includes('c');
    else if (!a.startsWith('--')) return DATA; // the script (or a script file) came already
  }
  return c && !value ? SCRIPT : DATA;
}

/** After awk's or sed's name: is the next word its program? */
function scriptOperand(after: ReadonlyArray<string | null>, valueOptions: Set<string>, what: string): Role {
  let value = false;
  let seen = false;
  for (const a of after) {
    if (value) {
      value = false;
      continue;
    }
    if (a === null) return DATA;
    if (a === '-e' || a === '--expression' || a === '-f' || a === '--file' || /^--(expression|file)=/.test(a))
      seen = true;
    if (valueOptions.has(a)) value = true;
    else if (!a.startsWith('-')) return DATA; // program (or first input file) already given
  }
  if (value)
    return after[after.length - 1] === '-e' || after[after.length - 1] === '--expression' ? program(what) : DATA;
  return seen ? DATA : program(what);
}

function program(what: string): Role {
  return { kind: 'program', what };
}

/** The role of the next word of a simple command whose earlier words are `words` (null: not literal). */
export function roleOfNextWord(words: ReadonlyArray<string | null>): Role {
  const args = commandWords(words);
  if (args.length === 0) return DATA;
  const name = base(args[0] ?? null);
  if (name === 'eval') return SCRIPT;
  if (name === 'trap') return args.slice(1).some((a) => a === null || !a.startsWith('-')) ? DATA : SCRIPT;
  if (name === 'let') return { kind: 'numeric', what: 'let' };
  // The closest program name before this word decides (wrappers: env, sudo, timeout, xargs, find -exec).
  for (let j = args.length - 1; j >= 0; j--) {
    const w = base(args[j] ?? null);
    if (w === null) continue;
    const after = args.slice(j + 1);
    if (SHELLS.has(w)) return shellArgument(after);
    if (FORBID.has(w)) return { kind: 'forbid', what: w };
    const inline = INLINE.find((i) => i.name.test(w));
    // The option counts only before the script file (`python3 train.py -c x` is train.py's option).
    if (inline)
      return after.length > 0 &&
        inline.option.test(after[after.length - 1] ?? '') &&
        after.every((a) => a !== null && a.startsWith('-'))
        ? program(w)
        : DATA;
    if (/^[gmn]?awk$/.test(w)) return scriptOperand(after, AWK_VALUE, w);
    if (/^g?sed$/.test(w)) return scriptOperand(after, SED_VALUE, w);
  }
  if (args.some((a) => a === null) && args[args.length - 1] === '-c') return SCRIPT;
  return DATA;
}

/** Role of a word that is an assignment operand of make (`make X=${…}`: make expands `$(…)` in it). */
export function isMakeAssignment(words: ReadonlyArray<string | null>, word: string): boolean {
  const name = base(commandWords(words)[0] ?? null);
  return (name === 'make' || name === 'gmake') && /^[A-Za-z_][A-Za-z0-9_.]*\s*[:+?]?=/.test(word);
}

/** Whether the command reads its standard input as a script (`sh`, `bash -s`, not `sh -c` or `sh file`). */
export function stdinIsScript(words: ReadonlyArray<string | null>): boolean {
  const args = commandWords(words);
  for (let j = args.length - 1; j >= 0; j--) {
    const w = base(args[j] ?? null);
    if (w === null || !SHELLS.has(w)) continue;
    let s = false;
    for (const a of args.slice(j + 1)) {
      if (a === null) return false;
      if (/^[-+][a-zA-Z]+$/.test(a)) {
        if (a.startsWith('-') && a.includes('c')) return false;
        s ||= a.includes('s');
      } else if (!a.startsWith('--')) return s;
    }
    return true;
  }
  return false;
}

/** Words of a `[[ … ]]` or `declare -i` command that make its operands arithmetic (bash evaluates them). */
export function isArithmeticCommand(words: ReadonlyArray<string | null>): boolean {
  const args = commandWords(words);
  const name = base(args[0] ?? null);
  if (name === '[[') return args.some((a) => a !== null && /^-(eq|ne|lt|le|gt|ge)$/.test(a));
  if (name === 'declare' || name === 'typeset' || name === 'local')
    return args.some((a) => a !== null && /^-[a-zA-Z]*i/.test(a));
  return false;
}
