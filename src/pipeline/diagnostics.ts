/** Building and printing Diagnostics: `file:line:col error: message (hint)`, the line, an underline. */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { Diagnostic, SourcePos } from './types.js';

/** The `file` of positions inside `--set` arguments (line = which `--set`, 1-based; col = offset). */
export const SET_FILE = '--set';

/** An error Diagnostic; `key` is the dotted key path it is about. */
export function error(
  message: string,
  pos: SourcePos | undefined,
  key: string | undefined,
  hint?: string,
  related?: Diagnostic['related'],
): Diagnostic {
  const d: Diagnostic = { severity: 'error', message };
  if (key !== undefined) d.key = key;
  if (pos) d.pos = pos;
  if (hint) d.hint = hint;
  if (related && related.length > 0) d.related = related;
  return d;
}

/** Drop repeats of the same message at the same place (foreach members share their source lines). */
export function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const id = `${d.message}\0${d.pos?.file}:${d.pos?.line}:${d.pos?.col}\0${d.key}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Dotted display path of key segments: `stages.pad.params.size`. */
export function keyPath(...segments: Array<string | number>): string {
  return segments.join('.');
}

const ansi = {
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  cyan: '\x1b[36m',
  green: '\x1b[32m',
  bold: '\x1b[1m',
  reset: '\x1b[0m',
};

/** A file name as shown to the user: relative to the current folder when inside it. */
export function displayFile(file: string): string {
  if (file === SET_FILE || !isAbsolute(file)) return file;
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

function sourceLine(pos: SourcePos): string | undefined {
  if (pos.text !== undefined) return pos.text;
  try {
    return readFileSync(pos.file, 'utf8').split(/\r?\n/)[pos.line - 1];
  } catch {
    return undefined; // the file went away or is not a file: print the message alone
  }
}

/** The source line and a `^~~~` underline under pos, indented, or '' when the line is unknown. */
function snippet(pos: SourcePos, color: boolean): string {
  const line = sourceLine(pos);
  if (line === undefined) return '';
  const num = ` ${pos.line} `;
  const blank = ' '.repeat(num.length);
  const start = Math.max(0, Math.min(pos.col - 1, line.length));
  // Keep tabs so the caret lines up under tab-indented text.
  const pad = line.slice(0, start).replace(/[^\t]/g, ' ');
  const span = Math.max(1, Math.min(pos.length ?? 1, Math.max(1, line.length - start)));
  const mark = '^' + '~'.repeat(span - 1);
  const paint = (s: string) => (color ? `${ansi.green}${s}${ansi.reset}` : s);
  return `\n${num}| ${line}\n${blank}| ${pad}${paint(mark)}`;
}

function where(pos: SourcePos | undefined): string {
  return pos ? `${displayFile(pos.file)}:${pos.line}:${pos.col}` : '';
}

/**
 * Print a Diagnostic the way compilers do:
 * `pipelines/x.yaml:12:7 error: unknown key "needz" in stages.pad (did you mean "needs"?)`,
 * then the source line with an underline, then each related position as a note.
 */
export function formatDiagnostic(d: Diagnostic, opts: { color?: boolean } = {}): string {
  const color = opts.color ?? false;
  const sev = color
    ? `${d.severity === 'error' ? ansi.red : ansi.yellow}${ansi.bold}${d.severity}${ansi.reset}`
    : d.severity;
  const loc = where(d.pos);
  const head = `${loc ? (color ? `${ansi.bold}${loc}${ansi.reset} ` : `${loc} `) : ''}${sev}: ${d.message}${d.hint ? ` (${d.hint})` : ''}`;
  let out = head + (d.pos ? snippet(d.pos, color) : '');
  for (const r of d.related ?? []) {
    const note = color ? `${ansi.cyan}note${ansi.reset}` : 'note';
    out += `\n${where(r.pos)} ${note}: ${r.message}${snippet(r.pos, color)}`;
  }
  return out;
}
