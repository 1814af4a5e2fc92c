/** Messages between the engine and a module stage's child process (over the Node IPC channel). */
import type { StageInvocation } from './stage-context.js';

export interface ModuleJob {
  module: string;
  invocation: StageInvocation;
}

export type ParentMessage = { type: 'start'; job: ModuleJob } | { type: 'abort' };

export type ChildMessage =
  | { type: 'progress'; done: number; total: number; label?: string }
  | { type: 'done' }
  | { type: 'error'; message: string };
