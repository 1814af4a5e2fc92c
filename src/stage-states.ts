/**
 * The words for a stage's situation, defined once: what happened to it in a run (StageAction,
 * recorded in the run history and printed by `run --json`) and what it is before a run
 * (StageState, printed by `status`).
 */

/** What happened to a stage in a run. */
export type StageAction = 'ran' | 'cached' | 'failed' | 'skipped';

/** What a stage is before a run: its output is current, out of date, or there is none. */
export type StageState = 'fresh' | 'stale' | 'never-run';

/** What a view shows for a stage: what happened to it in the last run, else its state now. */
export type StageDisplayState = StageAction | Exclude<StageState, 'fresh'>;
