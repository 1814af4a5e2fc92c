/**
 * Which stages a run takes: the named ones (a foreach group's name means all of it) and
 * everything they need, every stage when none is named; which ones are forced. An unknown name
 * is an error that suggests the nearest one.
 */
import { relative } from 'node:path';
import { closest } from '../pipeline/levenshtein.js';
import { upstream } from '../pipeline/dag.js';
import type { Pipeline } from '../pipeline/types.js';
import { err, ok, type Result } from '../result.js';

export interface StageSelection {
  selected: Set<string>;
  force(name: string): boolean;
}

/** `name` expanded: a stage name, or every stage of a foreach group. */
function expand(pipeline: Pipeline, names: string[]): Set<string> {
  return new Set(pipeline.stages.filter((s) => names.includes(s.name) || names.includes(s.group)).map((s) => s.name));
}

/** The first unknown name among `names`, as an error message with a suggestion. */
export function unknownStage(pipeline: Pipeline, names: string[]): string | undefined {
  const known = new Set(pipeline.stages.flatMap((s) => [s.name, s.group]));
  const bad = names.find((n) => !known.has(n));
  if (bad === undefined) return undefined;
  const best = closest(bad, known);
  return `no stage "${bad}" in ${relative(pipeline.workdir, pipeline.file)}${best === undefined ? '' : ` (did you mean "${best}"?)`}`;
}

export function selectStages(
  pipeline: Pipeline,
  req: { stages?: string[]; force?: string[]; forceAll?: boolean },
): Result<StageSelection, string> {
  const stages = req.stages ?? [];
  const forceNames = req.force ?? [];
  const problem = unknownStage(pipeline, [...stages, ...forceNames]);
  if (problem) return err(problem);
  const forced = expand(pipeline, forceNames);
  const selected = stages.length > 0 ? upstream(pipeline, stages) : new Set(pipeline.stages.map((s) => s.name));
  return ok({ selected, force: (name) => req.forceAll === true || forced.has(name) });
}
