/**
 * How push, pull and gc --remote show a transfer: a live line with bytes, rate and ETA on a
 * terminal (a line every 10 s in a log), retries as notices, and one line per stage at the end
 * saying what moved and what was skipped because the other side had it.
 */
import type { TransferEvent } from '../remote/transfer-meter.js';
import type { StageTransfer } from '../remote/pipeline-transfer.js';
import { LiveLine } from './live-line.js';
import { formatDuration } from './progress.js';

const NON_TTY_PROGRESS_MS = 10_000;
/** Retries printed one by one before they are only counted. */
const RETRIES_SHOWN = 5;

export class TransferPrinter {
  private readonly live: LiveLine;
  private lastPrinted = 0;
  private retriesSeen = 0;

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.live = new LiveLine(out);
  }

  /** Retries noticed by the transfer layer (the S3 SDK's own are counted by the store). */
  get retries(): number {
    return this.retriesSeen;
  }

  handle(event: TransferEvent): void {
    switch (event.type) {
      case 'transfer-start':
        this.lastPrinted = Date.now();
        if (event.objects > 0)
          this.print(`> ${event.stage}  ${event.direction} ${event.objects} object(s), ${formatBytes(event.bytes)}`);
        break;
      case 'transfer-progress': {
        const pct = event.bytes > 0 ? Math.floor((100 * event.doneBytes) / event.bytes) : 100;
        const eta = event.etaSeconds === undefined ? '' : `  ETA ${formatDuration(event.etaSeconds)}`;
        const line = `  ${event.stage} ${String(pct).padStart(3)}%  ${formatBytes(event.doneBytes)}/${formatBytes(event.bytes)}  ${formatRate(event.bytesPerSecond)}${eta}  ${event.doneObjects}/${event.objects} objects`;
        if (this.live.tty) this.live.draw(line);
        else if (Date.now() - this.lastPrinted >= NON_TTY_PROGRESS_MS) {
          this.lastPrinted = Date.now();
          this.print(line);
        }
        break;
      }
      case 'transfer-end':
        this.live.clear();
        break;
      case 'transfer-retry':
        this.retriesSeen++;
        if (this.retriesSeen <= RETRIES_SHOWN) this.print(`! ${event.stage}: retrying ${event.what}: ${event.message}`);
        else if (this.retriesSeen === RETRIES_SHOWN + 1) this.print('! more retries follow; counted in the summary');
        break;
      case 'remote-notice':
        this.print(`! ${event.stage ? `${event.stage}: ` : ''}${event.message}`);
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

  private print(line: string): void {
    this.live.print(line);
  }
}

/** The table after a push or pull: one line per stage, then the totals with the rate. */
export function formatTransferSummary(
  verb: 'push' | 'pull',
  url: string,
  stages: Array<StageTransfer<string>>,
  seconds: number,
  retries: number,
): string {
  const w = Math.max(5, ...stages.map((s) => s.name.length));
  const lines = stages.map((s) => {
    const moved =
      s.objects > 0 ? `  ${s.objects} object(s), ${formatBytes(s.bytes)} in ${formatDuration(s.seconds)}` : '';
    return `${s.name.padEnd(w)}  ${s.state.padEnd(13)}${moved}${s.reason ? `  (${s.reason})` : ''}`;
  });
  const objects = stages.reduce((t, s) => t + s.objects, 0);
  const bytes = stages.reduce((t, s) => t + s.bytes, 0);
  const counts = new Map<string, number>();
  for (const s of stages) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const parts = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  const rate = seconds > 0 && bytes > 0 ? `, ${formatRate(bytes / seconds)}` : '';
  lines.push(
    `tailor ${verb}: ${url}: ${parts}; moved ${objects} object(s), ${formatBytes(bytes)} in ${formatDuration(seconds)}${rate}${retries > 0 ? `; ${retries} retried request(s)` : ''}`,
  );
  return lines.join('\n') + '\n';
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function formatRate(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${formatBytes(Math.round(bytesPerSecond))}/s` : '-/s';
}
