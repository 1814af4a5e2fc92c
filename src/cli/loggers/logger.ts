/** A logger turns run events into what the user sees. Swappable: plain (terminal) or quiet (for --json). */
import type { RunEvent } from '../../run/events.js';

export interface Logger {
  handle(event: RunEvent): void;
  /** Flush anything pending (a live progress line) before other output is printed. */
  close(): void;
}
