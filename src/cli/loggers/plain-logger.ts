/** The terminal logger: one line per stage transition, streamed logs, live progress bars on a TTY. */
import { DEFAULT_HEADLINE, metricAt } from '../../pipeline/headline.js';
import type { Headline } from '../../pipeline/types.js';
import type { RunEvent, StageOutcome } from '../../run/events.js';
import { formatDuration, renderBar, updateProgress, type ProgressState } from '../progress.js';
import { LiveLine } from '../live-line.js';
import type { Logger } from './logger.js';

const NON_TTY_PROGRESS_MS = 10_000;

export class PlainLogger implements Logger {
  private readonly progress = new Map<string, ProgressState>();
  private readonly lastPrinted = new Map<string, number>();
  private readonly live: LiveLine;

  constructor(
    out: NodeJS.WriteStream = process.stderr,
    private readonly showLogs = true,
    /** The metric shown after each stage that records it (the pipeline's `headline:`). */
    private readonly headline: Headline = DEFAULT_HEADLINE,
  ) {
    this.live = new LiveLine(out);
  }

  handle(event: RunEvent): void {
    switch (event.type) {
      case 'run-start':
        this.print(`tailor: ${event.pipeline}: ${event.stages} stage(s), up to ${event.jobs} at once`);
        break;
      case 'stage-start':
        this.print(
          `> ${event.stage}  running${event.reasons.length ? `  (${event.reasons.slice(0, 4).join('; ')}${event.reasons.length > 4 ? '; …' : ''})` : ''}`,
        );
        break;
      case 'stage-log':
        if (this.showLogs) this.print(`  ${event.stage} | ${event.line}`);
        break;
      case 'stage-progress':
        this.onProgress(event.stage, event.done, event.total, event.label);
        break;
      case 'stage-end':
        this.progress.delete(event.outcome.name);
        this.print(outcomeLine(event.outcome, this.headline));
        break;
      case 'notice':
        this.print(`! ${event.stage ? `${event.stage}: ` : ''}${event.message}`);
        break;
      case 'run-end':
        this.print(summaryLine(event.outcomes, event.seconds, event.interrupted));
        break;
      default: {
        const never: never = event;
        throw new Error(`internal error: unhandled event ${JSON.stringify(never)}`);
      }
    }
  }

  close(): void {
    this.live.clear();
  }

  private onProgress(stage: string, done: number, total: number, label?: string): void {
    const state = updateProgress(this.progress.get(stage), done, total, label);
    this.progress.set(stage, state);
    if (this.live.tty) {
      this.drawLive();
      return;
    }
    const now = Date.now();
    const last = this.lastPrinted.get(stage) ?? 0;
    if (now - last >= NON_TTY_PROGRESS_MS || done === total) {
      this.lastPrinted.set(stage, now);
      this.print(`  ${stage} ${renderBar(state)}`);
    }
  }

  private drawLive(): void {
    const lines = [...this.progress.entries()].map(([stage, p]) => `  ${stage} ${renderBar(p)}`);
    if (lines.length === 0) this.live.clear();
    else this.live.draw(lines.join(' | '));
  }

  private print(line: string): void {
    this.live.print(line);
    if (this.live.tty && this.progress.size > 0) this.drawLive();
  }
}

function outcomeLine(o: StageOutcome, headline: Headline): string {
  const secs = formatDuration(o.seconds);
  const value = metricAt(o.metrics, headline.metric);
  const score = value === undefined ? '' : `  ${headline.label} ${value.toFixed(4)}`;
  switch (o.action) {
    case 'ran':
      return `✓ ${o.name}  ran in ${secs}${o.worker ? ` on ${o.worker}` : ''}${score}`;
    case 'cached':
      return `= ${o.name}  cached${o.from ? ` (from the ${o.from} cache)` : ''}${score}`;
    case 'failed':
      return `✗ ${o.name}  failed after ${secs}: ${o.reasons?.[0] ?? 'unknown error'}${o.logPath ? `\n    log: ${o.logPath}` : ''}`;
    case 'skipped':
      return `- ${o.name}  skipped (${o.reasons?.[0] ?? ''})`;
  }
}

function summaryLine(outcomes: StageOutcome[], seconds: number, interrupted: boolean): string {
  const count = (a: StageOutcome['action']) => outcomes.filter((o) => o.action === a).length;
  const ran = count('ran');
  const parts = [`${ran} ran`, `${count('cached')} cached`];
  if (count('failed')) parts.push(`${count('failed')} failed`);
  if (count('skipped')) parts.push(`${count('skipped')} skipped`);
  const head = interrupted
    ? 'interrupted'
    : ran === 0 && count('failed') === 0
      ? 'nothing to run: everything is up to date'
      : 'done';
  return `tailor: ${head} (${parts.join(', ')}) in ${formatDuration(seconds)}`;
}
