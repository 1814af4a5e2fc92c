/** Everything a run tells the user is one of these events, handed to a logger (src/cli/loggers). */
import type { StageAction } from '../stage-states.js';

export interface StageOutcome {
  name: string;
  action: StageAction;
  seconds: number;
  key?: string;
  treeHash?: string;
  /** The output without metrics.json (see src/cache/content-hash.ts); keys of downstream stages. */
  contentHash?: string;
  metrics?: Record<string, unknown>;
  /** Why it ran, why it failed (the first reason is the one-line failure) or why it was skipped. */
  reasons?: string[];
  logPath?: string;
  /** Where a cached output came from when it was not in the local cache ('remote'). */
  from?: 'remote';
  /** Who ran it when it ran elsewhere (`host:pid`, a Slurm job id). */
  worker?: string;
}

export type RunEvent =
  | { type: 'run-start'; pipeline: string; stages: number; jobs: number }
  | { type: 'stage-start'; stage: string; reasons: string[]; logPath: string }
  | { type: 'stage-log'; stage: string; line: string; stream: 'stdout' | 'stderr' }
  | { type: 'stage-progress'; stage: string; done: number; total: number; label?: string }
  | { type: 'stage-end'; outcome: StageOutcome }
  | { type: 'notice'; stage?: string; message: string }
  | { type: 'run-end'; outcomes: StageOutcome[]; seconds: number; interrupted: boolean };

export type EmitEvent = (event: RunEvent) => void;
