/**
 * Staleness: what each stage's key is (or will be), whether its output is known, and why it
 * would run. Shared by `status`, `run --dry-run` and the stage runner.
 */
import { resolve } from 'node:path';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { OutputRecord } from '../cache/output-table.js';
import type { Ingredients, LocalIngredients } from '../cache/key-ingredients.js';
import { err, ok, type Result } from '../result.js';
import type { StageState } from '../stage-states.js';
import type { Session } from './session.js';
import { describeError } from './describe-error.js';
import { explainChange } from './explain.js';
import { localIngredients, stageKey } from './stage-key.js';

export interface StagePlan {
  spec: StageSpec;
  state: StageState;
  /** What a run would do now: reuse the last output, restore an earlier one, or run. */
  action: 'reuse' | 'restore' | 'run';
  reasons: string[];
  /** Known once every upstream output is known. */
  key?: string;
  treeHash?: string;
  /** The output's content hash (no metrics.json): what downstream keys are made of. */
  contentHash?: string;
}

/** What a downstream key takes from an output: its data, not its timings in metrics.json. */
export function keyHashOf(output: Pick<OutputRecord, 'treeHash' | 'contentHash'>): string {
  return output.contentHash ?? output.treeHash;
}

/**
 * Hash a stage's code and deps: the part of its key that does not depend on upstream outputs.
 * A dep or module that cannot be hashed (a device, an unreadable file) is an error naming it.
 */
export async function computeLocal(
  session: Session,
  pipeline: Pipeline,
  spec: StageSpec,
): Promise<Result<LocalIngredients, string>> {
  let code: LocalIngredients['code'];
  if (spec.kind === 'module' && spec.module) {
    try {
      code = session.code.fingerprint(spec.module, codeBase(spec, pipeline));
    } catch (e) {
      return err(`cannot read the stage module ${spec.module}: ${describeError(e)}`);
    }
  }
  const deps: Record<string, string> = {};
  const problems: string[] = [];
  await Promise.all(
    spec.deps.map(async (dep) => {
      const path = resolve(pipeline.workdir, dep);
      try {
        const h = await session.hasher.hashPath(path);
        deps[dep] = h.kind === 'missing' ? 'missing' : h.hash;
      } catch (e) {
        problems.push(`deps ${dep}: ${describeError(e).replace(`${path}: `, '')}`);
      }
    }),
  );
  if (problems.length > 0) return err(problems.sort().join('; '));
  return ok(localIngredients(spec, pipeline.workdir, code, deps));
}

/** Built-in stages are fingerprinted relative to tailor's root, user modules relative to the workdir. */
function codeBase(spec: StageSpec, pipeline: Pipeline): string {
  return spec.builtin ? resolve(spec.module ?? '', '../..') : pipeline.workdir;
}

/** The key of a stage once its upstream tree hashes are known. */
export function fullIngredients(local: LocalIngredients, needs: Record<string, string>): Ingredients {
  return { ...local, needs };
}

/** Plan every stage without running anything (status, dry-run). */
export async function planPipeline(
  session: Session,
  pipeline: Pipeline,
  force: (name: string) => boolean,
): Promise<StagePlan[]> {
  const locals = await Promise.all(pipeline.stages.map((s) => computeLocal(session, pipeline, s)));
  const byName = new Map<string, StagePlan>();
  const plans: StagePlan[] = [];
  const latestByStage = session.index.outputs.latestOfPipeline(pipeline.name);
  pipeline.stages.forEach((spec, i) => {
    const local = locals[i]!;
    const latest = latestByStage.get(spec.name);
    const upstream = spec.needs.map((n) => byName.get(n)!);
    const pending = upstream.filter((u) => u.contentHash === undefined);
    let plan: StagePlan;
    if (!local.ok) {
      plan = { spec, state: latest ? 'stale' : 'never-run', action: 'run', reasons: [local.error] };
    } else if (pending.length > 0) {
      const reasons = pending.map((u) => `upstream ${u.spec.name} will run`);
      if (latest) reasons.push(...explainChange(latest.ingredients, local.value));
      plan = {
        spec,
        state: latest ? 'stale' : 'never-run',
        action: 'run',
        reasons: latest ? reasons : ['never run', ...reasons],
      };
    } else {
      const needs = Object.fromEntries(upstream.map((u) => [u.spec.name, u.contentHash!]));
      const ingredients = fullIngredients(local.value, needs);
      plan = classify(session, spec, stageKey(ingredients), latest, ingredients, force(spec.name));
    }
    byName.set(spec.name, plan);
    plans.push(plan);
  });
  return plans;
}

/** Decide what to do with a stage whose key is known. */
export function classify(
  session: Session,
  spec: StageSpec,
  key: string,
  latest: OutputRecord | undefined,
  ingredients: Ingredients,
  forced: boolean,
): StagePlan {
  const isLatest = latest?.stageKey === key;
  // Nothing changed is the common case: then the latest output is the one for this key.
  const known = isLatest ? latest : session.index.outputs.getOutput(key);
  const present = known !== undefined && session.store.exists(known.treeHash);
  const reasons = latest && !isLatest ? explainChange(latest.ingredients, ingredients) : [];
  if (!latest && !present) reasons.push('never run');
  if (isLatest && !present) reasons.push(known ? 'output missing from the cache' : 'no output recorded');
  if (forced) reasons.unshift('forced');
  const state: StageState = isLatest && present ? 'fresh' : latest ? 'stale' : present ? 'stale' : 'never-run';
  if (present && !forced) {
    if (!isLatest) reasons.push('output of an earlier run with the same key is in the cache');
    return {
      spec,
      state,
      action: isLatest ? 'reuse' : 'restore',
      reasons,
      key,
      treeHash: known.treeHash,
      contentHash: keyHashOf(known),
    };
  }
  return { spec, state: forced && state === 'fresh' ? 'stale' : state, action: 'run', reasons, key };
}
