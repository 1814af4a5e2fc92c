/**
 * The push and pull use cases over a whole pipeline (the CLI's `tailor push|pull` are thin
 * wrappers). Push sends each selected stage's latest output with its key's record. Pull walks the
 * stages in dependency order, computing each stage's current key locally (code, params, deps) from
 * its upstream outputs' content hashes: an upstream restored a moment ago gives its downstream its
 * key, and an upstream the remote lacks leaves its downstream unkeyable ('blocked').
 */
import type { Pipeline } from '../pipeline/types.js';
import { computeLocal, fullIngredients, keyHashOf } from '../run/plan.js';
import type { Session } from '../run/session.js';
import { stageKey } from '../run/stage-key.js';
import type { RemoteCache } from './remote-cache.js';
import { RemoteError } from './remote-store.js';

export type PushState = 'pushed' | 'up-to-date' | 'kept-remote' | 'no-local' | 'error' | 'not-tried';
export type PullState = 'pulled' | 'present' | 'not-on-remote' | 'blocked' | 'error' | 'not-tried';

export interface StageTransfer<S extends string> {
  name: string;
  state: S;
  key?: string;
  /** Objects and bytes moved for this stage (0 when nothing moved). */
  objects: number;
  bytes: number;
  seconds: number;
  /** Why nothing moved, in words. */
  reason?: string;
}

/** Push the latest output of each selected stage (pipeline order); stops at the first transport failure. */
export async function pushPipeline(
  cache: RemoteCache,
  pipeline: Pipeline,
  selected: Set<string>,
): Promise<Array<StageTransfer<PushState>>> {
  const latest = cache.local.latestOfPipeline(pipeline.name);
  const out: Array<StageTransfer<PushState>> = [];
  let failed = false;
  for (const spec of pipeline.stages.filter((s) => selected.has(s.name))) {
    const rec = latest.get(spec.name);
    const base = { name: spec.name, key: rec?.stageKey, objects: 0, bytes: 0, seconds: 0 };
    if (failed) out.push({ ...base, state: 'not-tried', reason: 'an earlier transfer failed' });
    else if (!rec) out.push({ ...base, state: 'no-local', reason: 'never run in this cache' });
    else {
      try {
        const r = await cache.publish(rec.stageKey, spec.name);
        if (r.kind === 'pushed')
          out.push({ ...base, state: 'pushed', objects: r.objects, bytes: r.bytes, seconds: r.seconds });
        else if (r.kind === 'up-to-date') out.push({ ...base, state: 'up-to-date' });
        else if (r.kind === 'kept-remote')
          out.push({
            ...base,
            state: 'kept-remote',
            reason: `the remote has another output (${r.treeHash.slice(0, 12)}) for this key`,
          });
        else out.push({ ...base, state: 'no-local', reason: r.reason });
      } catch (e) {
        if (!(e instanceof RemoteError)) throw e;
        failed = true;
        out.push({ ...base, state: 'error', reason: e.message });
      }
    }
  }
  return out;
}

/** Pull each selected stage's output for its current key (see the module comment). */
export async function pullPipeline(
  session: Session,
  cache: RemoteCache,
  pipeline: Pipeline,
  selected: Set<string>,
): Promise<Array<StageTransfer<PullState>>> {
  const contentOf = new Map<string, string>();
  const out: Array<StageTransfer<PullState>> = [];
  let failed = false;
  for (const spec of pipeline.stages.filter((s) => selected.has(s.name))) {
    const base = { name: spec.name, objects: 0, bytes: 0, seconds: 0 };
    const missing = spec.needs.filter((n) => !contentOf.has(n));
    if (failed) {
      out.push({ ...base, state: 'not-tried', reason: 'an earlier transfer failed' });
      continue;
    }
    if (missing.length > 0) {
      out.push({
        ...base,
        state: 'blocked',
        reason: `upstream ${missing.join(', ')} not available, so its key is unknown`,
      });
      continue;
    }
    const local = await computeLocal(session, pipeline, spec);
    if (!local.ok) {
      out.push({ ...base, state: 'blocked', reason: local.error });
      continue;
    }
    const key = stageKey(
      fullIngredients(local.value, Object.fromEntries(spec.needs.map((n) => [n, contentOf.get(n)!]))),
    );
    const r = await cache.restore(key, { pipeline: pipeline.name, stage: spec.name, setLatest: true });
    if (r.kind === 'restored' || r.kind === 'present') contentOf.set(spec.name, keyHashOf(r.record));
    if (r.kind === 'restored')
      out.push({ ...base, key, state: 'pulled', objects: r.objects, bytes: r.bytes, seconds: r.seconds });
    else if (r.kind === 'present') out.push({ ...base, key, state: 'present' });
    else if (r.kind === 'miss') out.push({ ...base, key, state: 'not-on-remote', reason: r.reason });
    else {
      failed = true;
      out.push({ ...base, key, state: 'error', reason: r.message });
    }
  }
  return out;
}
