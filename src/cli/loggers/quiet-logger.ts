/** For --json: nothing on stdout until the final object; failures and notices still go to stderr. */
import type { RunEvent } from '../../run/events.js';
import type { Logger } from './logger.js';

export class QuietLogger implements Logger {
  handle(event: RunEvent): void {
    switch (event.type) {
      case 'stage-end':
        if (event.outcome.action === 'failed')
          process.stderr.write(`tailor: ${event.outcome.name} failed: ${event.outcome.reasons?.[0] ?? ''}\n`);
        break;
      case 'notice':
        process.stderr.write(`tailor: ${event.stage ? `${event.stage}: ` : ''}${event.message}\n`);
        break;
      case 'run-start':
      case 'stage-start':
      case 'stage-log':
      case 'stage-progress':
      case 'run-end':
        break;
      default: {
        const never: never = event;
        throw new Error(`internal error: unhandled event ${JSON.stringify(never)}`);
      }
    }
  }
  close(): void {}
}
