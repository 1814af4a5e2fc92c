/**
 * Rewriting the `${...}` references of a `cmd` into references to environment variables, written so
 * that each value reaches its program as data in whatever quoting context the reference sits.
 *
 * The command text is scanned the way a POSIX shell tokenizes it (quotes, escapes, `$(…)`,
 * backquotes, `${…}`, `$((…))`, comments, here-documents) to learn each reference's context:
 *
 *   unquoted              -> "${V}"       one word, never split, globbed or parsed again
 *   inside "…"            -> ${V}
 *   inside '…'            -> '"${V}"'     (closed and reopened around it)
 *   here-document body    -> ${V}
 *   arithmetic, `let`     -> ${V} only when the value is a number; else refused
 *
 * A word that another shell parses as a script (`sh -c '…'`, `eval`, a here-document fed to `sh`) is
 * decoded and scanned as a script of its own; the reference is written for that inner shell and
 * then encoded for the outer quoting, so the inner shell expands the variable itself and its value
 * is never read as code. References inside another language's program text, inside a shell
 * `${…}` expansion or right after a backslash are refused with a message (see shell-roles.ts).
 * A reference is marked in the text by one private-use character (U+E000 + its slot index).
 */
import { isArithmeticCommand, isMakeAssignment, roleOfNextWord, stdinIsScript, type Role } from './shell-roles.js';
import {
  CommandError,
  MAX_DEPTH,
  OPERATOR,
  Word,
  dataText,
  encodeFor,
  sentinel,
  skipArith,
  skipBraced,
  hereDocBody,
  slotOf,
  type HereDoc,
  type Mode,
  type Slot,
} from './shell-text.js';

export { CommandError, SENTINEL_BASE, sentinel, type Slot } from './shell-text.js';

/** One script being scanned; nested scripts get their own Scan and their results are re-encoded. */
class Scan {
  i = 0;
  readonly result = new Map<number, string>();
  /** Set after a `$'…'`: dash and bash read the rest differently, so later references are refused. */
  private ambiguous = false;
  private caseDepth = 0;

  constructor(
    private readonly s: string,
    private readonly slots: readonly Slot[],
    private readonly depth: number,
  ) {
    if (depth > MAX_DEPTH) throw new CommandError(`scripts nested more than ${MAX_DEPTH} deep`);
  }

  run(): Map<number, string> {
    this.list(false);
    return this.result;
  }

  private fail(slot: number, message: string, hint?: string): never {
    throw new CommandError(message, slot, hint);
  }

  private env(slot: number): string {
    const s = this.slots[slot];
    if (!s) throw new CommandError('internal error: unknown reference marker');
    return s.env;
  }

  /** A reference met inside word `w`, quoted as `mode`. */
  private slotAt(w: Word, slot: number, mode: Mode): void {
    if (this.ambiguous)
      this.fail(
        slot,
        `a reference after a $'…' string with escapes: dash and bash read the quoting after it differently`,
      );
    const env = this.env(slot);
    let role = w.role;
    if (role.kind === 'data' && isMakeAssignment(w.before, w.text)) role = { kind: 'program', what: 'make' };
    w.literal = false;
    if (role.kind === 'script') {
      w.text += sentinel(slot);
      w.inner.push({ slot, mode });
      return;
    }
    if (role.kind === 'refuse') this.fail(slot, role.why);
    if (role.kind === 'forbid')
      this.fail(slot, `${role.what} hands its arguments to another shell, where tailor cannot pass a value safely`);
    if (role.kind === 'program' && !this.slots[slot]?.numeric)
      this.fail(
        slot,
        `inside ${role.what}'s program text a value would be read as ${role.what} code`,
        `pass it as an argument after the program, or read it from the environment there ($${env})`,
      );
    if (role.kind === 'numeric' && !this.slots[slot]?.numeric)
      this.fail(
        slot,
        `${role.what} evaluates its arguments as arithmetic, which may run code`,
        'only a number can be used here',
      );
    if (mode === 'rawdoc') this.fail(slot, 'a here-document with a quoted delimiter is not expanded');
    this.commandSlots[this.commandSlots.length - 1]?.push(slot);
    this.result.set(slot, dataText(env, mode));
  }

  /** Commands until the end (or, in `$(…)`, the closing parenthesis). */
  private list(inParens: boolean): void {
    const s = this.s;
    let words: Array<string | null> = [];
    let depth = 0;
    const docs: HereDoc[] = [];
    const slots: number[] = [];
    this.commandSlots.push(slots);
    const endCommand = (): void => {
      if (isArithmeticCommand(words)) this.checkNumeric(words, slots);
      words = [];
      slots.length = 0;
    };
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (c === ' ' || c === '\t') {
        this.i++;
      } else if (c === '\n') {
        this.i++;
        endCommand();
        for (const d of docs.splice(0)) this.hereDoc(d);
      } else if (c === '#') {
        this.comment();
      } else if (c === ')' && inParens && depth === 0 && this.caseDepth === 0) {
        this.i++;
        endCommand();
        this.commandSlots.pop();
        return;
      } else if (
        c === '(' &&
        s[this.i + 1] === '(' &&
        (words.length === 0 || (words.length === 1 && words[0] === 'for'))
      ) {
        this.i += 2;
        this.arith('((');
      } else if (c === ';' || c === '&' || c === '|' || c === '(' || c === ')') {
        if (c === '(') depth++;
        if (c === ')' && depth > 0) depth--;
        this.i++;
        if ((c === '&' || c === '|' || c === ';') && s[this.i] === c) this.i++;
        endCommand();
      } else if (c === '<' || c === '>') {
        this.redirect(words, docs);
      } else {
        const w = this.word(roleOfNextWord(words), words);
        const next = s[this.i];
        // `2>file`: an all-digit word right before a redirection is its file descriptor.
        if (w.literal && !w.quoted && /^\d+$/.test(w.text) && (next === '<' || next === '>')) continue;
        const value = w.literal ? w.text : null;
        const first = words.length === 0;
        if (first && value === 'case') this.caseDepth++;
        if (first && value === 'esac' && this.caseDepth > 0) this.caseDepth--;
        words.push(value);
      }
    }
    endCommand();
    for (const d of docs.splice(0)) this.hereDoc(d);
    this.commandSlots.pop();
  }

  /** Data references of the command being read, per nesting level (`[[ x -eq y ]]` checks them at its end). */
  private readonly commandSlots: number[][] = [];

  private checkNumeric(words: ReadonlyArray<string | null>, slots: readonly number[]): void {
    const name = words.find((w) => w !== null && w !== '!') ?? 'declare';
    for (const slot of slots)
      if (!this.slots[slot]?.numeric)
        this.fail(
          slot,
          `bash evaluates the operands of ${name} as arithmetic, which may run code`,
          'only a number can be used here',
        );
  }

  private comment(): void {
    while (this.i < this.s.length && this.s[this.i] !== '\n') {
      const slot = slotOf(this.s[this.i]);
      if (slot !== undefined) this.result.set(slot, dataText(this.env(slot), 'plain'));
      this.i++;
    }
  }

  private redirect(words: Array<string | null>, docs: HereDoc[]): void {
    const s = this.s;
    const op = /^(<<<|<<-|<<|<>|<&|>>|>&|>\||<|>)/.exec(s.slice(this.i, this.i + 3))?.[0] ?? s[this.i];
    this.i += op?.length ?? 1;
    while (s[this.i] === ' ' || s[this.i] === '\t') this.i++;
    if (op === '<<' || op === '<<-') {
      const w = this.word({ kind: 'refuse', why: 'a reference in a here-document delimiter' }, words);
      docs.push({ delim: w.text, strip: op === '<<-', quoted: w.quoted, words });
      return;
    }
    const role: Role = op === '<<<' && stdinIsScript(words) ? { kind: 'script' } : { kind: 'data' };
    if (this.i < s.length && !OPERATOR.has(s[this.i] as string)) this.word(role, words);
  }

  /** Read one word from the current position, handing each reference to slotAt. */
  private word(role: Role, before: ReadonlyArray<string | null>): Word {
    const s = this.s;
    const w = new Word(role, [...before]);
    while (this.i < s.length) {
      const c = s[this.i] as string;
      const slot = slotOf(c);
      if (slot !== undefined) {
        this.slotAt(w, slot, 'plain');
        this.i++;
      } else if (OPERATOR.has(c)) {
        break;
      } else if (c === '\\') {
        this.backslash(w, 'plain');
      } else if (c === "'") {
        this.single(w);
      } else if (c === '"') {
        this.i++;
        this.double(w);
      } else if (c === '$') {
        this.dollar(w, 'plain');
      } else if (c === '`') {
        this.backquote(w, 'plain');
      } else {
        w.add(c);
        this.i++;
      }
    }
    this.finishScript(w);
    return w;
  }

  /** A script word is complete: scan it as its own script and encode its references back. */
  private finishScript(w: Word): void {
    if (w.role.kind !== 'script' || w.inner.length === 0) return;
    let inner: Map<number, string>;
    try {
      inner = new Scan(w.text, this.slots, this.depth + 1).run();
    } catch (e) {
      // A syntax problem of the inner script (an unclosed quote) is shown at its first reference.
      if (e instanceof CommandError && e.slot === undefined)
        throw new CommandError(`in the script this reference is part of: ${e.message}`, w.inner[0]?.slot, e.hint);
      throw e;
    }
    for (const { slot, mode } of w.inner) {
      const text = inner.get(slot);
      if (text === undefined) this.fail(slot, 'cannot tell where this reference is in the inner script');
      this.result.set(slot, encodeFor(text, mode));
    }
  }

  private backslash(w: Word, mode: 'plain' | 'dq' | 'doc'): void {
    const next = this.s[this.i + 1];
    const slot = slotOf(next);
    if (slot !== undefined)
      this.fail(slot, 'a reference right after a backslash: the backslash would quote its first character');
    w.quoted = true;
    if (next === undefined) {
      w.add('\\');
      this.i++;
    } else if (next === '\n') {
      this.i += 2;
    } else if (mode === 'plain' || '$`\\'.includes(next) || (mode === 'dq' && next === '"')) {
      w.add(next);
      this.i += 2;
    } else {
      w.add('\\');
      this.i++;
    }
  }

  private single(w: Word): void {
    w.quoted = true;
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== "'") {
      const c = this.s[this.i] as string;
      const slot = slotOf(c);
      if (slot !== undefined) this.slotAt(w, slot, 'sq');
      else w.add(c);
      this.i++;
    }
    if (this.i >= this.s.length) throw new CommandError('unterminated single quote');
    this.i++;
  }

  /** Inside "…" (opening quote consumed). */
  private double(w: Word): void {
    w.quoted = true;
    this.expanding(w, 'dq');
    if (this.i >= this.s.length) throw new CommandError('unterminated double quote');
    this.i++;
  }

  /** Text where `$`, backquotes and backslashes work: up to `"` (dq) or to the end (a here-document body). */
  private expanding(w: Word, mode: 'dq' | 'doc'): void {
    const s = this.s;
    while (this.i < s.length && !(mode === 'dq' && s[this.i] === '"')) {
      const c = s[this.i] as string;
      const slot = slotOf(c);
      if (slot !== undefined) {
        this.slotAt(w, slot, mode);
        this.i++;
      } else if (c === '\\') this.backslash(w, mode);
      else if (c === '$') this.dollar(w, mode);
      else if (c === '`') this.backquote(w, mode);
      else {
        w.add(c);
        this.i++;
      }
    }
  }

  /** A `$` in `mode`: an expansion of some kind, or a literal dollar. */
  private dollar(w: Word, mode: 'plain' | 'dq' | 'doc'): void {
    const s = this.s;
    const next = s[this.i + 1];
    const slot = slotOf(next);
    if (slot !== undefined) this.fail(slot, 'a reference right after "$"');
    if (next === '(' && s[this.i + 2] === '(') {
      this.i += 3;
      this.arith('$((');
      w.dynamic();
    } else if (next === '(') {
      this.i += 2;
      this.list(true);
      w.dynamic();
    } else if (next === '{') {
      this.i += 2;
      this.braced();
      w.dynamic();
    } else if (next === "'" && mode === 'plain') {
      this.i += 2;
      while (this.i < s.length && s[this.i] !== "'") {
        const inside = slotOf(s[this.i]);
        if (inside !== undefined) this.fail(inside, "a reference inside a $'…' string");
        // Without a backslash inside, bash ($'…') and dash ($ then '…') end the string at one place.
        if (s[this.i] === '\\') this.ambiguous = true;
        this.i += s[this.i] === '\\' ? 2 : 1;
      }
      this.i++;
      w.dynamic();
    } else if (next === '"' && mode === 'plain') {
      this.i++; // $"…" reads like "…" (bash translates it; dash keeps the $)
      w.dynamic();
    } else if (next !== undefined && /[A-Za-z_]/.test(next)) {
      this.i += 2;
      while (this.i < s.length && /[A-Za-z0-9_]/.test(s[this.i] as string)) this.i++;
      w.dynamic();
    } else if (next !== undefined && /[0-9@*#?$!-]/.test(next)) {
      this.i += 2;
      w.dynamic();
    } else {
      w.add('$');
      this.i++;
    }
  }

  /** `${…}` of the shell itself (opening consumed): skipped; a reference inside is refused. */
  private braced(): void {
    this.i = skipBraced(this.s, this.i);
  }

  /** Arithmetic (`$((` or `((` consumed) up to the matching `))`: only numbers may be substituted. */
  private arith(opener: string): void {
    this.i = skipArith(this.s, this.i, opener, (slot) => {
      if (!this.slots[slot]?.numeric)
        this.fail(
          slot,
          `the shell evaluates ${opener}…)) as arithmetic, which may run code`,
          'only a number can be used here',
        );
      this.result.set(slot, `\${${this.env(slot)}}`);
    });
  }

  /** A backquoted command substitution: its text, unescaped, is a script of the same shell. */
  private backquote(w: Word, mode: 'plain' | 'dq' | 'doc'): void {
    const s = this.s;
    let j = this.i + 1;
    let body = '';
    while (j < s.length && s[j] !== '`') {
      if (
        s[j] === '\\' &&
        j + 1 < s.length &&
        ('$`\\'.includes(s[j + 1] as string) || (mode === 'dq' && s[j + 1] === '"'))
      ) {
        body += s[j + 1];
        j += 2;
      } else body += s[j++];
    }
    if (j >= s.length) throw new CommandError('unterminated ` in the command');
    this.i = j + 1;
    w.dynamic();
    const slots = [...body].map(slotOf).filter((x): x is number => x !== undefined);
    if (slots.length === 0) return;
    if (mode === 'dq') this.fail(slots[0] as number, 'a reference inside `…` inside double quotes', 'use $(…) instead');
    const inner = new Scan(body, this.slots, this.depth + 1).run();
    for (const slot of slots)
      this.result.set(slot, encodeFor(inner.get(slot) ?? dataText(this.env(slot), 'plain'), 'bq'));
  }

  /** A here-document's body (after the line that opened it), up to its delimiter line. */
  private hereDoc(d: HereDoc): void {
    const { body, end } = hereDocBody(this.s, this.i, d);
    this.i = end;
    const w = new Word(stdinIsScript(d.words) ? { kind: 'script' } : { kind: 'data' }, d.words);
    if (d.quoted) {
      for (const ch of body) {
        const slot = slotOf(ch);
        if (slot !== undefined) this.slotAt(w, slot, 'rawdoc');
        else w.add(ch);
      }
    } else {
      const sub = new Scan(body, this.slots, this.depth);
      sub.expanding(w, 'doc');
      for (const [k, v] of sub.result) this.result.set(k, v);
    }
    this.finishScript(w);
  }
}

/**
 * The replacement text of every slot marked in `text` (a command with sentinel characters), or a
 * CommandError saying which reference cannot be made safe and why.
 */
export function rewriteReferences(text: string, slots: readonly Slot[]): Map<number, string> {
  return new Scan(text, slots, 0).run();
}
