/**
 * Comparing a fresh run with the committed lock file, stage by stage:
 *
 * - key: informative. When it differs, say whether the stage itself changed (code, params, seed,
 *   deps) or only its upstream outputs did (recomputing the key with the lock's upstream outputs
 *   tells the two apart).
 * - output: for deterministic stages, the output tree hash must be the committed one — unless
 *   the stage itself is unchanged and only its inputs differ (a non-deterministic upstream), where
 *   equal bytes cannot be expected and the metrics decide.
 * - metrics: every numeric metric of the lock entry, within the stage's declared tolerance
 *   (`verify: { tolerance: { "holdout.micro_f1": 0.01 } }`), exactly when none is declared;
 *   timings and other measures of the machine are left out unless a tolerance names them.
 * - output bytes are compared without metrics.json (the lock's `content` hash), which holds
 *   timings in most stages; older lock entries without it fall back to the whole tree hash.
 */
import type { StageSpec } from '../pipeline/types.js';
import type { LockEntry, LockFile } from '../run/lock-file.js';
import { stageKey } from '../run/stage-key.js';
import { flattenMetrics } from '../exp/flat.js';
import type { FreshStage } from './fresh-run.js';
import { bytesIncomparable } from '../ml/backend-record.js';

/** ok; mismatch, missing, failed fail the verification; the rest inform. */
export type Verdict = 'ok' | 'mismatch' | 'missing' | 'failed' | 'changed' | 'new' | 'not-compared' | 'unused';

export const FAILING: ReadonlySet<Verdict> = new Set<Verdict>(['mismatch', 'missing', 'failed']);

export interface Check {
  stage: string;
  /** `lock`, `run`, `key`, `output`, `metric holdout.micro_f1`, `tolerance x.y`. */
  check: string;
  expected: string;
  got: string;
  verdict: Verdict;
  note?: string;
  /**
   * Metric checks the table folds into one row per stage: `equal` (exact, no tolerance declared)
   * and `machine` (timings and the like, not compared).
   */
  fold?: 'equal' | 'machine';
}

export interface StageInput {
  spec: StageSpec;
  entry: LockEntry | undefined;
  fresh: FreshStage | undefined;
  lock: LockFile;
  deterministic: boolean;
  /** Why the key differs from the lock's, from an earlier run's ingredients, if known. */
  explainKey?: (lockKey: string, fresh: FreshStage) => string[] | undefined;
}

export function compareStage(input: StageInput): Check[] {
  const { spec, entry, fresh } = input;
  const stage = spec.name;
  if (!entry) {
    return [
      {
        stage,
        check: 'lock',
        expected: '(no entry)',
        got: fresh?.key ?? '',
        verdict: 'missing',
        note: 'not in the lock file: run the pipeline with `tailor run` and commit the lock file',
      },
    ];
  }
  if (!fresh || fresh.action === 'failed' || fresh.action === 'skipped' || !fresh.key) {
    return [
      {
        stage,
        check: 'run',
        expected: 'ran',
        got: fresh?.action ?? 'not run',
        verdict: 'failed',
        note: fresh?.reason ?? 'the stage did not run',
      },
    ];
  }
  const checks: Check[] = [];
  const sameKey = fresh.key === entry.key;
  const localSame = !sameKey && onlyInputsDiffer(fresh, input.lock, entry);
  const keyNote = sameKey
    ? undefined
    : localSame
      ? 'same code, params and deps; upstream output differs'
      : input.explainKey?.(entry.key, fresh)?.join('; ') || 'the stage changed: code, params, seed or deps';
  checks.push({
    stage,
    check: 'key',
    expected: entry.key,
    got: fresh.key,
    verdict: sameKey ? 'ok' : 'changed',
    ...(keyNote ? { note: keyNote } : {}),
  });

  // Runs on different backends (or a native one on another CPU) cannot repeat bytes: metrics decide.
  const acrossBackends = bytesIncomparable(entry.metrics, fresh.metrics);
  if (input.deterministic && acrossBackends) {
    const [expected, got] = [entry.content ?? entry.output, fresh.content ?? fresh.treeHash ?? ''];
    checks.push({
      stage,
      check: 'output',
      expected,
      got,
      verdict: got === expected ? 'ok' : 'not-compared',
      note: acrossBackends,
    });
  } else if (input.deterministic) {
    // Bytes without metrics.json when both sides have that hash (metrics are compared below).
    const byContent = entry.content !== undefined && fresh.content !== undefined;
    const expected = byContent ? entry.content! : entry.output;
    const got = (byContent ? fresh.content : fresh.treeHash) ?? '';
    const scope = byContent ? '' : ' (whole output with metrics.json: the lock entry has no content hash)';
    if (localSame) {
      if (got === expected) checks.push({ stage, check: 'output', expected, got, verdict: 'ok' });
      else
        checks.push({
          stage,
          check: 'output',
          expected,
          got,
          verdict: 'not-compared',
          note: 'deterministic, but its inputs differ: metrics decide',
        });
    } else if (got === expected) {
      checks.push({ stage, check: 'output', expected, got, verdict: 'ok' });
    } else {
      const note = sameKey
        ? 'same inputs, different bytes: not deterministic here?'
        : 'the stage changed and so did its output: rerun it and commit the lock file';
      checks.push({ stage, check: 'output', expected, got, verdict: 'mismatch', note: note + scope });
    }
  }
  // Other backend, or other inputs (an upstream stage on another backend): only declared tolerances can hold.
  const looser = acrossBackends ? 'other backend' : localSame ? 'other inputs' : undefined;
  checks.push(...compareMetrics(stage, entry.metrics, fresh.metrics, spec.verify?.tolerance ?? {}, looser));
  return checks;
}

/** True when the fresh key, recomputed with the lock's upstream outputs, is the lock's key. */
function onlyInputsDiffer(fresh: FreshStage, lock: LockFile, entry: LockEntry): boolean {
  if (!fresh.ingredients) return false;
  const needs: Record<string, string> = {};
  for (const name of Object.keys(fresh.ingredients.needs)) {
    const up = lock.stages[name];
    if (!up) return false;
    needs[name] = up.content ?? up.output; // keys take an upstream's content hash (no metrics.json)
  }
  return stageKey({ ...fresh.ingredients, needs }) === entry.key;
}

export function compareMetrics(
  stage: string,
  expected: Record<string, unknown>,
  got: Record<string, unknown>,
  tolerance: Record<string, number>,
  /** Why exact equality cannot be expected (other backend, other inputs): then only metrics with a tolerance are compared. */
  looser?: string,
): Check[] {
  const want = flattenMetrics(expected);
  const have = flattenMetrics(got);
  const checks: Check[] = [];
  for (const [path, e] of Object.entries(want)) {
    const tol = tolerance[path];
    const g = have[path];
    const check = `metric ${path}`;
    const machine = tol === undefined && isMachineMetric(path);
    // Other backend or other inputs: exact equality cannot be expected where no tolerance is declared.
    if (machine || (tol === undefined && looser && g !== e)) {
      checks.push({
        stage,
        check,
        expected: String(e),
        got: g === undefined ? '(none)' : String(g),
        verdict: 'not-compared',
        note: machine
          ? 'measures the machine or the cache (time, throughput, workers, reuse)'
          : `${looser}: only metrics with a verify.tolerance are compared`,
        ...(machine ? { fold: 'machine' as const } : {}),
      });
      continue;
    }
    if (g === undefined) {
      checks.push({
        stage,
        check,
        expected: String(e),
        got: '(none)',
        verdict: 'mismatch',
        note: 'the stage no longer reports it',
      });
      continue;
    }
    const diff = Math.abs(g - e);
    const ok = tol === undefined ? g === e : diff <= tol;
    const note =
      tol === undefined
        ? ok
          ? undefined
          : `differs by ${short(diff)}; exact match required (declare verify.tolerance)`
        : `|Δ| ${short(diff)} ${ok ? '<=' : '>'} ${tol}`;
    checks.push({
      stage,
      check,
      expected: String(e),
      got: String(g),
      verdict: ok ? 'ok' : 'mismatch',
      ...(note ? { note } : {}),
      ...(tol === undefined && ok ? { fold: 'equal' as const } : {}),
    });
  }
  for (const [path, g] of Object.entries(have)) {
    if (!(path in want) && !isMachineMetric(path))
      checks.push({
        stage,
        check: `metric ${path}`,
        expected: '(none)',
        got: String(g),
        verdict: 'new',
        note: 'not in the lock file',
      });
  }
  for (const path of Object.keys(tolerance)) {
    if (!(path in want))
      checks.push({
        stage,
        check: `tolerance ${path}`,
        expected: '',
        got: '',
        verdict: 'unused',
        note: 'no such numeric metric in the lock file',
      });
  }
  return checks;
}

/** A difference in three significant digits, without trailing zeros. */
function short(x: number): string {
  return String(Number(x.toPrecision(3)));
}

/**
 * Metrics that measure the machine or the state of the cache rather than the result — wall time,
 * throughput, worker counts, and how much work earlier runs' item caches saved (`reused`,
 * `computed`, `padded`: a fresh cache computes everything, a warm one reuses it) — are not
 * compared unless a tolerance is declared for them.
 */
export function isMachineMetric(path: string): boolean {
  const leaf = path.slice(path.lastIndexOf('.') + 1);
  return (
    /^(seconds|secs|ms|elapsed|elapsed_ms|workers|threads)$|(_seconds|_secs|_ms|_per_s|_per_sec|_per_second)$|^seconds_per_/.test(
      leaf,
    ) || /^(reused|computed|padded|resumed_at_epoch)$/.test(leaf)
  );
}
