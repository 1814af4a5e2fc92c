/**
 * Per-epoch training history of a model stage, found tolerantly: an array of epoch records
 * (`history`, `epochs`, `learning_curve` in metrics.json, at the top or one level down, e.g. per
 * training phase), Keras-style columns (`{loss: [...], val_loss: [...]}`), a JSON-lines file of
 * epoch records (`epochs.jsonl`, as the model stages write it, phases one after another), or a
 * CSV file (`history.csv`, `epochs.csv`, `learning-curve.csv`). Series are split into losses and
 * F1 scores; where the records name a `phase`, the epochs where a new phase starts are marked.
 */
import { numberAt } from '../formats/csv.js';
import { flatten, isScalar } from '../util/flatten.js';
import type { LineSeries } from '../charts/line-chart.js';
import { eachJsonLine, findFile, readCsv } from './stage-files.js';

export interface History {
  loss: LineSeries[];
  f1: LineSeries[];
  epochs: number;
  /** Where it was found, e.g. `metrics.json: history`. */
  source: string;
  /** Training phases in order (`head`, `fine-tune`), when the records name them. */
  phases: string[];
  /** x of the first epoch of every phase after the first. */
  phaseStarts: Array<{ x: number; phase: string }>;
}

const KEYS = ['history', 'epochs', 'learning_curve', 'learningCurve', 'per_epoch'];
/** Fields of an epoch record that are not curves. */
const NOT_CURVES = /^(epoch|step|iteration|seconds|lr|learning_rate|samples_per_s)$/;

type Row = Record<string, number>;

/** Epoch records: numeric fields, and the phase each belongs to (if named). */
interface Records {
  rows: Row[];
  phases: Array<string | undefined>;
}

/** The history of a stage, or undefined when it has none. */
export async function readHistory(metrics: Record<string, unknown>, dir: string): Promise<History | undefined> {
  const found = recordsInMetrics(metrics);
  if (found) return toHistory(found, `metrics.json: ${found.where}`);
  const jsonl = await findFile(dir, /^(epochs|history)\.jsonl$/i);
  if (jsonl) {
    const recs: Records = { rows: [], phases: [] };
    await eachJsonLine(jsonl, (r) => addRecord(recs, r));
    const h = toHistory(recs, jsonl.slice(dir.length + 1));
    if (h) return h;
  }
  const file = await findFile(dir, /^(history|epochs|learning[-_]curve)\.csv$/i);
  const t = file && (await readCsv(file));
  if (!t || t.rows.length === 0) return undefined;
  const rows = t.rows.map(
    (r) => Object.fromEntries(t.header.map((h, i) => [h, numberAt(r, i)]).filter(([, v]) => Number.isFinite(v))) as Row,
  );
  return toHistory({ rows, phases: rows.map(() => undefined) }, file.slice(dir.length + 1));
}

function addRecord(recs: Records, r: Record<string, unknown>): void {
  recs.rows.push(numericOnly(flatten(r, isScalar)));
  recs.phases.push(typeof r.phase === 'string' ? r.phase : undefined);
}

/** Epoch records under one of KEYS, at the top level or one object down (phases concatenated). */
function recordsInMetrics(metrics: Record<string, unknown>): (Records & { where: string }) | undefined {
  for (const k of KEYS) {
    const recs = asRecords(metrics[k]);
    if (recs) return { ...recs, where: k };
  }
  const all: Records = { rows: [], phases: [] };
  const where: string[] = [];
  for (const [name, v] of Object.entries(metrics)) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
    for (const k of KEYS) {
      const recs = asRecords((v as Record<string, unknown>)[k]);
      if (!recs) continue;
      all.rows.push(...recs.rows);
      // A history nested under a name is that phase, unless its records say otherwise.
      all.phases.push(...recs.phases.map((p) => p ?? name));
      where.push(`${name}.${k}`);
      break;
    }
  }
  return all.rows.length > 0 ? { ...all, where: where.join(' + ') } : undefined;
}

/** Records from an array of objects or from Keras-style `{metric: [per epoch]}` columns. */
function asRecords(v: unknown): Records | undefined {
  const recs: Records = { rows: [], phases: [] };
  if (Array.isArray(v)) {
    for (const r of v)
      if (r !== null && typeof r === 'object' && !Array.isArray(r)) addRecord(recs, r as Record<string, unknown>);
  } else if (v && typeof v === 'object') {
    const cols = Object.entries(v as Record<string, unknown>).filter((e): e is [string, unknown[]] =>
      Array.isArray(e[1]),
    );
    const n = Math.max(0, ...cols.map(([, a]) => a.length));
    for (let i = 0; i < n; i++) addRecord(recs, Object.fromEntries(cols.map(([k, a]) => [k, a[i]])));
  }
  return recs.rows.length > 0 ? recs : undefined;
}

function numericOnly(r: Record<string, unknown>): Row {
  return Object.fromEntries(
    Object.entries(r).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])),
  );
}

/**
 * A key in words: `val_loss` → `validation loss`, `loss` → `train loss` (Keras names training
 * values bare), `train.micro_f1` → `train micro-F1`.
 */
export function seriesName(key: string): string {
  const named = /^(val|validation|train|training|test|holdout)[._]/.test(key) ? key : `train_${key}`;
  return named
    .replace(/^val(idation)?[._]/, 'validation ')
    .replace(/[._]/g, ' ')
    .replace(/\bmicro f1\b/i, 'micro-F1')
    .replace(/\bexample f1\b/i, 'example-F1')
    .replace(/\s+/g, ' ')
    .trim();
}

function toHistory(recs: Records, source: string): History | undefined {
  const { rows } = recs;
  if (rows.length === 0) return undefined;
  // x: the epoch field while it keeps increasing (one phase), else the running count.
  const epochs = rows.map((r) => r.epoch);
  const increasing = epochs.every((e, i) => e !== undefined && (i === 0 || e > (epochs[i - 1] as number)));
  const xs = rows.map((r, i) => (increasing ? (r.epoch as number) : i + 1));
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => !NOT_CURVES.test(k));
  const series = (test: RegExp): LineSeries[] =>
    keys
      .filter((k) => test.test(k))
      .map((k) => ({
        name: seriesName(k),
        points: rows.flatMap((r, i): Array<[number, number]> =>
          r[k] === undefined ? [] : [[xs[i] as number, r[k] as number]],
        ),
      }));
  const loss = series(/loss/i);
  const f1 = series(/f1/i);
  if (loss.length === 0 && f1.length === 0) return undefined;
  const phases: string[] = [];
  const phaseStarts: History['phaseStarts'] = [];
  recs.phases.forEach((p, i) => {
    if (p === undefined || p === phases[phases.length - 1]) return;
    if (phases.length > 0) phaseStarts.push({ x: xs[i] as number, phase: p });
    phases.push(p);
  });
  return { loss, f1, epochs: rows.length, source, phases, phaseStarts };
}
