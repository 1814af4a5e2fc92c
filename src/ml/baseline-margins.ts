/**
 * How far a scored stage is above split's two baselines (frequency top-k, colour histograms with
 * no CNN), both scored on the same holdout images, failed ones included. Read from the split's
 * metrics.json; a split without them (an older or hand-made one) gives no margins.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signed } from './bootstrap.js';

export interface BaselineMargins {
  frequency_baseline: number | null;
  colour_baseline: number | null;
  over_frequency_baseline: number | null;
  over_colour_baseline: number | null;
}

interface SplitMetrics {
  baseline?: { holdout_micro_f1?: number };
  colour_baseline?: { holdout_micro_f1?: number };
}

export async function baselineMargins(splitDir: string, holdoutMicroF1: number): Promise<BaselineMargins> {
  const file = join(splitDir, 'metrics.json');
  const m = existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as SplitMetrics) : {};
  const freq = m.baseline?.holdout_micro_f1 ?? null;
  const colour = m.colour_baseline?.holdout_micro_f1 ?? null;
  const round = (x: number): number => Math.round(x * 1e6) / 1e6;
  return {
    frequency_baseline: freq,
    colour_baseline: colour,
    over_frequency_baseline: freq === null ? null : round(holdoutMicroF1 - freq),
    over_colour_baseline: colour === null ? null : round(holdoutMicroF1 - colour),
  };
}

/** "+0.3600 over the frequency baseline, +0.1400 over the colour baseline" (what is known). */
export function marginText(m: BaselineMargins): string {
  const parts: string[] = [];
  if (m.over_frequency_baseline !== null)
    parts.push(`${signed(m.over_frequency_baseline)} over the frequency baseline`);
  if (m.over_colour_baseline !== null) parts.push(`${signed(m.over_colour_baseline)} over the colour baseline`);
  return parts.join(', ');
}
