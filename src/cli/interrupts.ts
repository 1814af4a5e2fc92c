/**
 * The one place where signals become cancellation. The first SIGINT or SIGTERM aborts the
 * AbortSignal handed to the use case (the run stops its stages and commits nothing more); a
 * second one exits at once with 130 — the stages still running are killed on the way out
 * (process-reaper.ts), so nothing outlives tailor either way.
 */
import { EXIT } from './common.js';

export async function withInterrupts<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  say: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      say(`tailor: ${sig} again: stopping now`);
      process.exit(EXIT.interrupted);
    }
    say(`tailor: ${sig}: stopping (press Ctrl-C again to stop at once)`);
    controller.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
