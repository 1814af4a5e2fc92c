/**
 * Which stages a batch of file changes makes stale: stages whose definition changed in the YAML
 * (params, command, module, needs, deps, seed), stages reading a changed code or deps file, and
 * everything downstream of them.
 */
import { downstream } from '../pipeline/dag.js';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import { canonicalJson } from '../run/canonical-json.js';
import { stagesReading, type WatchSet } from './watch-set.js';

/** The parts of a stage that make up its key (positions and descriptions do not). */
function definition(s: StageSpec): string {
  return canonicalJson({
    kind: s.kind,
    module: s.module ?? null,
    cmd: s.cmd ?? null,
    needs: s.needs,
    deps: s.deps,
    params: s.params,
    seed: s.seed,
  });
}

/** Stages of `after` that are new or defined differently than in `before`. */
export function changedDefinitions(before: Pipeline | undefined, after: Pipeline): Set<string> {
  const old = new Map((before?.stages ?? []).map((s) => [s.name, definition(s)]));
  return new Set(after.stages.filter((s) => old.get(s.name) !== definition(s)).map((s) => s.name));
}

/**
 * Stages (of `after`) made stale by `changed` paths. `set` is the watch set the paths were seen
 * under (it maps code and deps files to stages).
 */
export function affectedStages(
  before: Pipeline | undefined,
  after: Pipeline,
  changed: Iterable<string>,
  set: WatchSet,
): Set<string> {
  const direct = new Set<string>();
  let pipelineFileChanged = false;
  for (const path of changed) {
    if (set.sources.has(path)) pipelineFileChanged = true;
    for (const s of stagesReading(set, path)) direct.add(s);
  }
  if (pipelineFileChanged) for (const s of changedDefinitions(before, after)) direct.add(s);
  const known = new Set(after.stages.map((s) => s.name));
  return downstream(
    after,
    [...direct].filter((s) => known.has(s)),
  );
}
