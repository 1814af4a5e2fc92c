/** The verify table (stage, check, expected, got, verdict, note) and its one-line summary. */
import { renderTable } from '../exp/text-table.js';
import { FAILING, type Check, type Verdict } from './compare.js';

const WORDS: Record<Verdict, string> = {
  ok: 'ok',
  mismatch: 'MISMATCH',
  missing: 'MISSING',
  failed: 'FAILED',
  changed: 'changed',
  new: 'new',
  'not-compared': 'not compared',
  unused: 'unused',
};

/** Hashes are shown by their first 12 characters; everything else as it is. */
function cell(check: string, value: string): string {
  return check === 'key' || check === 'output' ? value.slice(0, 12) : value;
}

/**
 * The table. Unless `all`, the metric checks that pass exactly with no tolerance declared are
 * folded into one `metrics` row per stage, and the timings into one `timings` row, so the rows
 * that matter stay visible.
 */
export function formatVerifyTable(checks: Check[], all: boolean): string {
  const rows: string[][] = [];
  const stages = [...new Set(checks.map((c) => c.stage))];
  for (const stage of stages) {
    const own = checks.filter((c) => c.stage === stage);
    const equal = all ? [] : own.filter((c) => c.fold === 'equal');
    const machine = all ? [] : own.filter((c) => c.fold === 'machine');
    for (const c of own) {
      if (!all && c.fold) continue;
      rows.push([c.stage, c.check, cell(c.check, c.expected), cell(c.check, c.got), WORDS[c.verdict], c.note ?? '']);
    }
    if (equal.length > 0) rows.push([stage, `metrics (${equal.length} more)`, 'exact', 'equal', 'ok', '']);
    if (machine.length > 0)
      rows.push([
        stage,
        `timings (${machine.length})`,
        '',
        '',
        WORDS['not-compared'],
        machine.map((c) => c.check.replace(/^metric /, '')).join(', '),
      ]);
  }
  return renderTable(
    [
      { title: 'stage' },
      { title: 'check', max: 44 },
      { title: 'expected', max: 16 },
      { title: 'got', max: 16 },
      { title: 'verdict' },
      { title: 'note', max: 90 },
    ],
    rows,
  );
}

export function summaryLine(checks: Check[]): { ok: boolean; line: string } {
  const failing = checks.filter((c) => FAILING.has(c.verdict));
  if (failing.length === 0) {
    const stages = new Set(checks.map((c) => c.stage)).size;
    return { ok: true, line: `verify: ok: ${stages} stage(s), ${checks.length} check(s) match the lock file` };
  }
  const stages = [...new Set(failing.map((c) => c.stage))];
  return {
    ok: false,
    line: `verify: FAILED: ${failing.length} check(s) in ${stages.length} stage(s) do not match the lock file: ${stages.join(', ')}`,
  };
}
