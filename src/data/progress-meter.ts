/**
 * Progress for long per-item loops: forwards done/total to `ctx.progress` (throttled; the label
 * carries the failure count) and logs a line with rate, ETA and failures every few seconds, so a
 * plain log of a million-item run still shows how it goes.
 */
import type { StageContext } from '../stage-api.js';

export class ProgressMeter {
  private done = 0;
  private failed = 0;
  private readonly started = Date.now();
  private lastReport = 0;
  private lastLog: number;

  constructor(
    private readonly ctx: Pick<StageContext, 'progress' | 'log'>,
    private readonly total: number,
    private readonly what: string,
    private readonly logEveryMs = 10_000,
  ) {
    this.lastLog = this.started;
  }

  /** Count finished items (`failed` of them failures). */
  add(items: number, failed = 0): void {
    this.done += items;
    this.failed += failed;
    const now = Date.now();
    if (now - this.lastReport >= 200 || this.done >= this.total) {
      this.lastReport = now;
      this.ctx.progress(this.done, this.total, `${this.what}, ${this.failed} failed`);
    }
    if (now - this.lastLog >= this.logEveryMs) {
      this.lastLog = now;
      this.ctx.log(this.line(now));
    }
  }

  /** Items per second so far. */
  rate(now = Date.now()): number {
    const s = (now - this.started) / 1000;
    return s > 0 ? this.done / s : 0;
  }

  /** "1200/5000 images, 310/s, ETA 12 s, 4 failed". */
  line(now = Date.now()): string {
    const rate = this.rate(now);
    const left = this.total - this.done;
    const eta = rate > 0 && left > 0 ? `, ETA ${formatSeconds(left / rate)}` : '';
    return `${this.done}/${this.total} ${this.what}, ${rate.toFixed(rate < 10 ? 1 : 0)}/s${eta}, ${this.failed} failed`;
  }

  get failures(): number {
    return this.failed;
  }
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
