/** Messages between the engine and a stage's child process (over the Node IPC channel). */
import type { StageInvocation } from './stage-context.js';

export type ChildJob =
  | { kind: 'module'; module: string; invocation: StageInvocation }
  | { kind: 'cmd'; cmd: string; invocation: StageInvocation; env: Record<string, string> };

export type ParentMessage = { type: 'start'; job: ChildJob } | { type: 'abort' };

export type ChildMessage =
  | { type: 'progress'; done: number; total: number; label?: string }
  | { type: 'done' }
  | { type: 'error'; message: string };
