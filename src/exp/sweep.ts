/**
 * Sweeps: `--set S.K=V1,V2,...` lists expand to the grid of every combination, one experiment
 * each, in the order given (the first `--set` varies slowest, like nested loops).
 *
 * A comma splits values only at the top level of VALUE: commas inside quotes (`"a,b"`, `'a,b'`),
 * inside brackets or braces (`[1,2]`, `{a: 1, b: 2}`) or escaped with a backslash (`a\,b`) stay
 * part of one value. So `--set 'b.text="a,b"'` is one experiment, `--set 'b.shape=[1,2],[3,4]'`
 * two, each with a list.
 */

/** One `--set` split into its key and the values it sweeps (one value: no sweep). */
export interface SweepAxis {
  /** `STAGE.KEY` as written. */
  key: string;
  /** VALUE texts, each read as YAML later by the loader. */
  values: string[];
}

/** One point of the grid: the `--set` arguments of one experiment and its values by key. */
export interface SweepPoint {
  sets: string[];
  /** Only the swept axes (more than one value): `key` -> value text. */
  swept: Array<[string, string]>;
}

/** Split VALUE at top-level commas; `\,` is a literal comma. */
export function splitValues(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      cur += c;
      if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '\\' && text[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (c === '[' || c === '{') {
      depth++;
      cur += c;
    } else if ((c === ']' || c === '}') && depth > 0) {
      depth--;
      cur += c;
    } else if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** `S.K=V1,V2` as an axis; an argument without `=` stays whole (the loader reports it). */
export function axisOf(arg: string): SweepAxis {
  const eq = arg.indexOf('=');
  if (eq < 0) return { key: arg, values: [] };
  return { key: arg.slice(0, eq), values: splitValues(arg.slice(eq + 1)) };
}

/** The `--set` argument for one value of an axis (the loader itself never splits at commas). */
function setArg(axis: SweepAxis, value: string): string {
  return axis.values.length === 0 ? axis.key : `${axis.key}=${value}`;
}

/** Every combination of the axes, first axis slowest. A grid of one point has no swept axes. */
export function expandGrid(args: readonly string[]): SweepPoint[] {
  const axes = args.map(axisOf);
  let points: SweepPoint[] = [{ sets: [], swept: [] }];
  for (const axis of axes) {
    const values = axis.values.length === 0 ? [''] : axis.values;
    points = points.flatMap((p) =>
      values.map((v) => ({
        sets: [...p.sets, setArg(axis, v)],
        swept: values.length > 1 ? [...p.swept, [axis.key, v] as [string, string]] : p.swept,
      })),
    );
  }
  return points;
}

/** How many experiments the arguments ask for. */
export function gridSize(args: readonly string[]): number {
  return args.map(axisOf).reduce((n, a) => n * Math.max(1, a.values.length), 1);
}

const MAX_NAME = 100;

/** The last segment of `stage.key` (the part people read), for names. */
function shortKey(key: string): string {
  return key.slice(key.lastIndexOf('.') + 1);
}

/**
 * The name of one experiment of a run: PREFIX alone for a single experiment; in a sweep,
 * `PREFIX-key=value-key=value` (swept values only), or `PREFIX-N` when that would be too long or
 * not one printable line. Without a prefix, the values alone (or `exp-TIME` with no --set at all).
 */
export function experimentName(prefix: string | undefined, point: SweepPoint, index: number, now: Date): string {
  const values = (
    point.swept.length > 0 ? point.swept : point.sets.map(axisOf).map((a) => [a.key, a.values[0] ?? ''] as const)
  )
    .map(([k, v]) => `${shortKey(k)}=${v.replace(/^(["'])(.*)\1$/, '$2')}`)
    .join('-');
  if (prefix !== undefined && point.swept.length === 0) return prefix;
  const base = prefix !== undefined ? `${prefix}-${values}` : values;
  const printable = base !== '' && base.length <= MAX_NAME && !/[\u0000-\u001f\u007f]/.test(base);
  if (printable) return base;
  if (prefix !== undefined) return `${prefix}-${index + 1}`;
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return point.swept.length > 0 ? `sweep-${stamp}-${index + 1}` : `exp-${stamp}`;
}
