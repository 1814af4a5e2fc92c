/**
 * Counting a long per-item loop: done and failed items go to `ctx.progress` (throttled; the label
 * carries the failure count), where the engine's meter shows rate and ETA — the one meter, so a
 * stage prints no ETA of its own. `summary()` is the closing line for the stage's log.
 */
import type { StageContext } from '../stage-api.js';
import { formatDuration, formatRate } from '../util/format.js';

export class ItemCounter {
  private done = 0;
  private failed = 0;
  private readonly started = Date.now();
  private lastReport = 0;

  constructor(
    private readonly ctx: Pick<StageContext, 'progress'>,
    private readonly total: number,
    private readonly what: string,
  ) {}

  /** Count finished items (`failed` of them failures). */
  add(items: number, failed = 0): void {
    this.done += items;
    this.failed += failed;
    const now = Date.now();
    if (now - this.lastReport >= 200 || this.done >= this.total) {
      this.lastReport = now;
      this.ctx.progress(this.done, this.total, `${this.what}, ${this.failed} failed`);
    }
  }

  get failures(): number {
    return this.failed;
  }

  /** "5000/5000 images in 12.3 s (406/s), 4 failed". */
  summary(now = Date.now()): string {
    const seconds = (now - this.started) / 1000;
    return `${this.done}/${this.total} ${this.what} in ${formatDuration(seconds)} (${formatRate(this.done, seconds)}), ${this.failed} failed`;
  }
}
