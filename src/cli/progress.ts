/** Progress bars with rate and ETA for stages that call ctx.progress. */

export interface ProgressState {
  done: number;
  total: number;
  label?: string;
  startedAt: number;
  /** Smoothed items per second. */
  rate: number;
  lastAt: number;
  lastDone: number;
}

export function updateProgress(
  prev: ProgressState | undefined,
  done: number,
  total: number,
  label: string | undefined,
  now = Date.now(),
): ProgressState {
  if (!prev || done < prev.lastDone) {
    return { done, total, label, startedAt: now, rate: 0, lastAt: now, lastDone: done };
  }
  const dt = (now - prev.lastAt) / 1000;
  let rate = prev.rate;
  if (dt > 0.05) {
    const instant = (done - prev.lastDone) / dt;
    // An exponential moving average: steady enough to read, quick enough to follow a change of pace.
    rate = prev.rate === 0 ? instant : 0.7 * prev.rate + 0.3 * instant;
    return { ...prev, done, total, label, rate, lastAt: now, lastDone: done };
  }
  return { ...prev, done, total, label };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** `[#########.........]  45%  450/1000  12.3/s  ETA 44s  label` */
export function renderBar(p: ProgressState, width = 24): string {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(frac * width);
  const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
  const rate = p.rate > 0 ? `${p.rate >= 100 ? Math.round(p.rate) : p.rate.toFixed(1)}/s` : '-/s';
  const eta = p.rate > 0 && p.total > p.done ? `ETA ${formatDuration((p.total - p.done) / p.rate)}` : '';
  return `[${bar}] ${String(Math.floor(frac * 100)).padStart(3)}%  ${p.done}/${p.total}  ${rate}  ${eta}${p.label ? `  ${p.label}` : ''}`.trimEnd();
}
