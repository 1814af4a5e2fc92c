/**
 * `--remote` for a run: a TieredCache over the run's cache, seen by the engine only as RunHooks
 * (restore before running a stage, publish after committing one) and by the user as run events
 * (warnings, transfer progress on the stage's line). `tailor run`, `exp run`, `verify` and a
 * distributed worker open it the same way: `openRunRemote(url, session, ...)`, then
 * `remoteRunHooks(cache)`.
 *
 * Nothing remote may fail a run: whatever goes wrong while restoring (a transport error, a corrupt
 * object, a bug in a download) is a warning and a miss, and the stage runs; a failed push is a
 * warning. Only a damaged local index goes up, as everywhere in the engine.
 */
import { isIndexDamage, describeError } from '../run/describe-error.js';
import type { EmitEvent } from '../run/events.js';
import type { RunHooks } from '../run/stage-runner.js';
import { err, ok, type Result } from '../result.js';
import { LocalCache, type LocalCacheParts } from './local-cache.js';
import { RemoteCache } from './remote-cache.js';
import { TieredCache } from './tiered-cache.js';
import type { TransferEvent } from './transfer-meter.js';

export interface RunRemoteOptions {
  /** Upload each output as it is committed (`--push`). */
  push?: boolean;
  /** Transfers at once (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  /** Where warnings and progress go (the run's emit). */
  emit: EmitEvent;
}

/** Open the remote a URL names as a TieredCache over a run's cache; a bad URL is an error in words. */
export async function openRunRemote(
  url: string,
  parts: LocalCacheParts,
  opts: RunRemoteOptions,
): Promise<Result<TieredCache, string>> {
  const local = new LocalCache(parts);
  const onEvent = (e: TransferEvent) => forwardTransferEvent(e, opts.emit);
  const remote = await RemoteCache.open(url, local, { concurrency: opts.concurrency, signal: opts.signal, onEvent });
  if (!remote.ok) return err(remote.error);
  return ok(new TieredCache(local, remote.value, { push: opts.push, onEvent }));
}

/** The engine's view of a remote: restore misses and failures are undefined (run the stage). */
export function remoteRunHooks(cache: TieredCache, emit: EmitEvent): RunHooks {
  return {
    async restore({ pipeline, stage, key }) {
      try {
        return (await cache.restore(key, { pipeline, stage }))?.record;
      } catch (e) {
        if (isIndexDamage(e)) throw e;
        emit({ type: 'notice', stage, message: `remote cache restore failed, running the stage: ${describeError(e)}` });
        return undefined;
      }
    },
    async afterCommit(output) {
      if (!cache.pushing) return;
      try {
        const pushed = await cache.publish(output.stageKey, output.stage);
        if (pushed?.kind === 'kept-remote')
          emit({
            type: 'notice',
            stage: output.stage,
            message: `not pushed: the remote has another output (${pushed.treeHash.slice(0, 12)}) for this key`,
          });
      } catch (e) {
        if (isIndexDamage(e)) throw e;
        emit({ type: 'notice', stage: output.stage, message: `push failed: ${describeError(e)}` });
      }
    },
  };
}

/** Transfer events as run events: warnings as notices, progress on the stage's own line. */
function forwardTransferEvent(e: TransferEvent, emit: EmitEvent): void {
  switch (e.type) {
    case 'remote-notice':
      emit({ type: 'notice', stage: e.stage, message: e.message });
      break;
    case 'transfer-progress':
      emit({ type: 'stage-progress', stage: e.stage, done: e.doneBytes, total: e.bytes, label: e.direction });
      break;
    default:
      // start, end and retries: the stage's outcome line and the summary say enough
      break;
  }
}
