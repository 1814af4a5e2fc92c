/**
 * The one way a stage finds its inputs among `ctx.needs`. An input is an upstream output of a
 * kind (src/formats/output-kinds.ts: the files that make a folder one). A param may name the
 * upstream stage (`split: my-split`), which must then be of that kind; unset (the param left out),
 * the one needed stage of that kind is used. None or several is an error naming the param to set.
 *
 * Paths in params (fetch's `train: train.json`, pad's `manifest`) are read from one folder, the
 * input base: the upstream stage named by `from`, else the only upstream stage, else (no
 * upstream stages) the working folder. Absolute paths are used as given.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { OutputKind } from '../formats/output-kinds.js';

export type Needs = Readonly<Record<string, string>>;

/** An upstream stage's output folder with the stage's name. */
export interface NamedDir {
  name: string;
  dir: string;
}

export interface InputOptions {
  /** The param that names the upstream stage for this input, and its value (undefined: unset). */
  param?: { name: string; value: string | undefined };
  /** Upstream stages already taken for another input. */
  exclude?: ReadonlyArray<NamedDir | string>;
}

/** Whether a folder holds every file of a kind. */
export function isKind(dir: string, kind: OutputKind): boolean {
  return kind.files.every((f) => existsSync(join(dir, f)));
}

const list = (names: string[]): string => (names.length ? names.join(', ') : 'none');

function candidates(needs: Needs, opts: InputOptions): NamedDir[] {
  const skip = new Set((opts.exclude ?? []).map((e) => (typeof e === 'string' ? e : e.name)));
  return Object.entries(needs)
    .filter(([name]) => !skip.has(name))
    .map(([name, dir]) => ({ name, dir }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function named(needs: Needs, kind: OutputKind, param: { name: string; value: string }): NamedDir {
  const dir = needs[param.value];
  if (dir === undefined)
    throw new Error(
      `param ${param.name}: "${param.value}" is not among this stage's needs (${list(Object.keys(needs))})`,
    );
  if (!isKind(dir, kind)) throw new Error(`param ${param.name}: stage "${param.value}" has no ${kind.what}`);
  return { name: param.value, dir };
}

/** The upstream output of `kind` named by the param, else the only one; undefined when there is none. */
export function findOptionalInput(needs: Needs, kind: OutputKind, opts: InputOptions = {}): NamedDir | undefined {
  if (opts.param?.value !== undefined) return named(needs, kind, { name: opts.param.name, value: opts.param.value });
  const found = candidates(needs, opts).filter((c) => isKind(c.dir, kind));
  if (found.length <= 1) return found[0];
  const hint = opts.param ? `: name one with param ${opts.param.name}` : '';
  throw new Error(`several needed stages hold ${kind.what} (${list(found.map((f) => f.name))})${hint}`);
}

/** The upstream output of `kind`: the one named by the param, else the only one there is. */
export function findInput(needs: Needs, kind: OutputKind, opts: InputOptions = {}): NamedDir {
  const found = findOptionalInput(needs, kind, opts);
  if (found) return found;
  throw new Error(`no needed stage holds ${kind.what} (needs: ${list(Object.keys(needs))})`);
}

/** Every upstream output of `kind`, by stage name; `names` (when given) picks some, each of the kind. */
export function findInputs(
  needs: Needs,
  kind: OutputKind,
  opts: InputOptions & { names?: readonly string[] } = {},
): NamedDir[] {
  const found = candidates(needs, opts).filter((c) => isKind(c.dir, kind));
  if (opts.names === undefined) return found;
  const unknown = opts.names.filter((n) => !found.some((f) => f.name === n));
  if (unknown.length > 0)
    throw new Error(
      `param ${opts.param?.name ?? 'names'}: ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not a needed stage with ${kind.what} (found: ${list(found.map((f) => f.name))})`,
    );
  return found.filter((f) => opts.names!.includes(f.name));
}

/** The folder relative path params are read from (see the module comment). */
export function inputBase(ctx: { needs: Needs; workdir: string }, from: string | undefined): string {
  const names = Object.keys(ctx.needs);
  if (from !== undefined) {
    const dir = ctx.needs[from];
    if (dir === undefined) throw new Error(`from: "${from}" is not an upstream stage (needs: ${list(names)})`);
    return dir;
  }
  if (names.length === 0) return ctx.workdir;
  if (names.length === 1) return ctx.needs[names[0]!]!;
  throw new Error(`this stage needs ${names.join(', ')}: set "from" to the one its inputs come from`);
}

/** A param path against the input base (absolute paths stay as they are). */
export function resolveInput(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

/**
 * Absolute path of a manifest `file` inside `base`; undefined when it would leave the folder
 * (manifest contents are data, never a way to read elsewhere).
 */
export function containedPath(base: string, file: string): string | undefined {
  if (file === '' || file.includes('\0')) return undefined;
  const abs = resolve(base, file);
  const rel = relative(base, abs);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  return abs;
}
