/**
 * Progress of one transfer (a push or pull of one stage's output): bytes and objects done out of
 * the total, the average rate so far and the ETA, as events for whoever prints them. Throttled so
 * a million small files do not mean a million events.
 */

export type Direction = 'push' | 'pull';

export interface TransferTotals {
  direction: Direction;
  stage: string;
  objects: number;
  bytes: number;
}

export type TransferEvent =
  | ({ type: 'transfer-start' } & TransferTotals)
  | ({
      type: 'transfer-progress';
      doneObjects: number;
      doneBytes: number;
      bytesPerSecond: number;
      /** Seconds left at the rate so far; undefined until there is a rate. */
      etaSeconds?: number;
    } & TransferTotals)
  | ({ type: 'transfer-end'; seconds: number } & TransferTotals)
  | { type: 'transfer-retry'; stage: string; what: string; attempt: number; message: string }
  | { type: 'remote-notice'; stage?: string; message: string };

export type TransferListener = (event: TransferEvent) => void;

const EVERY_MS = 250;

export class TransferMeter {
  private doneBytes = 0;
  private doneObjects = 0;
  private readonly started = Date.now();
  private lastEmit = 0;

  constructor(
    private readonly totals: TransferTotals,
    private readonly emit: TransferListener = () => undefined,
  ) {
    emit({ type: 'transfer-start', ...totals });
  }

  /** Bytes moved (negative when a failed attempt's bytes will be sent again). */
  addBytes(n: number): void {
    this.doneBytes = Math.max(0, this.doneBytes + n);
    this.tick();
  }

  objectDone(): void {
    this.doneObjects++;
    this.tick();
  }

  /** Close the transfer; returns the seconds it took. */
  finish(): number {
    const seconds = (Date.now() - this.started) / 1000;
    this.emit({ type: 'transfer-end', ...this.totals, objects: this.doneObjects, bytes: this.doneBytes, seconds });
    return seconds;
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastEmit < EVERY_MS) return;
    this.lastEmit = now;
    const elapsed = (now - this.started) / 1000;
    const rate = elapsed > 0 ? this.doneBytes / elapsed : 0;
    const left = this.totals.bytes - this.doneBytes;
    this.emit({
      type: 'transfer-progress',
      ...this.totals,
      doneObjects: this.doneObjects,
      doneBytes: this.doneBytes,
      bytesPerSecond: rate,
      etaSeconds: rate > 0 ? Math.max(0, left) / rate : undefined,
    });
  }
}
