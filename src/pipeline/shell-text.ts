/**
 * The pieces of shell-context.ts that do not walk a script: how a reference is marked in command
 * text (one private-use character per slot), how it is written for each quoting context, how
 * inner-shell text is encoded for the outer quoting, and the skippers for `${…}` and arithmetic.
 */
import type { Role } from './shell-roles.js';

/** What a reference stands for, as far as quoting is concerned. */
export interface Slot {
  /** The environment variable that holds its value. */
  env: string;
  /** The value is a plain number: safe in arithmetic and in other languages' program text. */
  numeric: boolean;
}

/** Why a command cannot be rewritten; `slot` names the reference when one is at fault. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly slot?: number,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const SENTINEL_BASE = 0xe000;
export const SENTINEL_END = 0xf8ff;
/** Scripts inside scripts deeper than this are refused (nobody writes them; a loop would be a bug). */
export const MAX_DEPTH = 8;

/** How the characters around a reference are quoted. */
export type Mode = 'plain' | 'dq' | 'sq' | 'doc' | 'rawdoc' | 'bq';

/** The marker of slot `i` in command text. */
export function sentinel(i: number): string {
  return String.fromCharCode(SENTINEL_BASE + i);
}

export function slotOf(ch: string | undefined): number | undefined {
  if (ch === undefined) return undefined;
  const c = ch.charCodeAt(0);
  return c >= SENTINEL_BASE && c <= SENTINEL_END ? c - SENTINEL_BASE : undefined;
}

/** The reference written so that the shell at this point expands it as one word of data. */
export function dataText(env: string, mode: Mode): string {
  switch (mode) {
    case 'plain':
      return `"\${${env}}"`;
    case 'sq':
      return `'"\${${env}}"'`;
    default:
      return `\${${env}}`;
  }
}

/** Inner-shell text `s` encoded so the outer shell passes it on unchanged from a `mode` context. */
export function encodeFor(s: string, mode: Mode): string {
  switch (mode) {
    case 'sq':
      return s.replace(/'/g, `'\\''`);
    case 'dq':
      return s.replace(/[\\"$`]/g, '\\$&');
    case 'doc':
    case 'bq':
      return s.replace(/[\\$`]/g, '\\$&');
    case 'rawdoc':
      return s;
    case 'plain':
      return `'${s.replace(/'/g, `'\\''`)}'`;
  }
}

/** One word being read: its literal text (for command detection) or, for a script, its decoded text. */
export class Word {
  text = '';
  literal = true;
  quoted = false;
  /** Slots inside a script word, with the outer quoting at each. */
  readonly inner: Array<{ slot: number; mode: Mode }> = [];
  constructor(
    readonly role: Role,
    readonly before: ReadonlyArray<string | null>,
  ) {}
  add(ch: string): void {
    this.text += ch;
  }
  /** An expansion: not literal; a script gets a placeholder word character for it. */
  dynamic(): void {
    this.literal = false;
    if (this.role.kind === 'script') this.text += '_';
  }
}

export interface HereDoc {
  delim: string;
  strip: boolean;
  quoted: boolean;
  words: Array<string | null>;
}

export const OPERATOR = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

/** Skip a shell `${…}` (opening consumed); returns the index after its `}`. A reference inside is refused. */
export function skipBraced(s: string, from: number): number {
  let depth = 1;
  let quote: string | undefined;
  for (let i = from; i < s.length; i++) {
    const c = s[i] as string;
    const slot = slotOf(c);
    if (slot !== undefined)
      throw new CommandError('a reference inside a shell ${…} expansion', slot, 'use it outside the braces');
    if (c === '\\' && quote !== "'") i++;
    else if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  throw new CommandError('unterminated ${ in the command');
}

/** Skip arithmetic (`$((` or `((` consumed) to its `))`, handing each reference to `onSlot`; returns the index after. */
export function skipArith(s: string, from: number, opener: string, onSlot: (slot: number) => void): number {
  let depth = 0;
  for (let i = from; i < s.length; i++) {
    const c = s[i] as string;
    const slot = slotOf(c);
    if (slot !== undefined) onSlot(slot);
    else if (c === '(') depth++;
    else if (c === ')') {
      if (depth > 0) depth--;
      else if (s[i + 1] === ')') return i + 2;
    }
  }
  throw new CommandError(`unterminated ${opener} in the command`);
}

/** The body of here-document `d` starting at `from`, and the index after its delimiter line. */
export function hereDocBody(s: string, from: number, d: HereDoc): { body: string; end: number } {
  let body = '';
  let i = from;
  while (i < s.length) {
    const nl = s.indexOf('\n', i);
    const line = s.slice(i, nl < 0 ? s.length : nl);
    i = nl < 0 ? s.length : nl + 1;
    if ((d.strip ? line.replace(/^\t+/, '') : line) === d.delim) break;
    body += `${line}\n`;
  }
  return { body, end: i };
}
