/** DAG queries (what is upstream/downstream of some stages) and drawings (text, mermaid, dot). */
import type { Pipeline, StageSpec } from './types.js';

export type DagFormat = 'text' | 'mermaid' | 'dot';

/** Stage names for `names`, where a foreach group name stands for all its members. */
function expand(p: Pipeline, names: Iterable<string>): string[] {
  const wanted = new Set(names);
  return p.stages.filter((s) => wanted.has(s.name) || wanted.has(s.group)).map((s) => s.name);
}

function reach(start: string[], next: (name: string) => readonly string[]): Set<string> {
  const seen = new Set(start);
  const stack = [...start];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    for (const m of next(n)) {
      if (!seen.has(m)) {
        seen.add(m);
        stack.push(m);
      }
    }
  }
  return seen;
}

/** The given stages (group names expand) and everything they need, transitively. */
export function upstream(p: Pipeline, names: Iterable<string>): Set<string> {
  const byName = new Map(p.stages.map((s) => [s.name, s]));
  return reach(expand(p, names), (n) => byName.get(n)?.needs ?? []);
}

/** The given stages (group names expand) and everything that needs them, transitively. */
export function downstream(p: Pipeline, names: Iterable<string>): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const s of p.stages) {
    for (const n of s.needs) {
      const list = dependents.get(n) ?? [];
      list.push(s.name);
      dependents.set(n, list);
    }
  }
  return reach(expand(p, names), (n) => dependents.get(n) ?? []);
}

/** What runs the stage, in a few words: `uses pad`, `uses stages/my.ts`, `cmd`. */
function runsWith(s: StageSpec, workdir: string): string {
  if (s.kind === 'cmd') return 'cmd';
  if (s.builtin) return `uses ${s.module?.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '') ?? '?'}`;
  const m = s.module ?? '?';
  return `uses ${m.startsWith(`${workdir}/`) ? m.slice(workdir.length + 1) : m}`;
}

/**
 * Text: one line per stage in run order, indented by depth (longest chain of needs above it),
 * with what runs it and what it needs.
 */
function text(p: Pipeline): string {
  const depth = new Map<string, number>();
  const lines: string[] = [];
  for (const s of p.stages) {
    const d = s.needs.reduce((m, n) => Math.max(m, (depth.get(n) ?? 0) + 1), 0);
    depth.set(s.name, d);
    const needs = s.needs.length ? `  <- ${s.needs.join(', ')}` : '';
    lines.push(`${'  '.repeat(d)}${s.name} (${runsWith(s, p.workdir)})${needs}`);
  }
  return lines.join('\n');
}

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Mermaid `graph TD`, edges pointing the way data flows (upstream --> downstream). */
function mermaid(p: Pipeline): string {
  const id = new Map(p.stages.map((s, i) => [s.name, `s${i}`]));
  const lines = ['graph TD'];
  for (const s of p.stages) lines.push(`  ${id.get(s.name)}["${s.name.replace(/"/g, '#quot;')}"]`);
  for (const s of p.stages) for (const n of s.needs) lines.push(`  ${id.get(n)} --> ${id.get(s.name)}`);
  return lines.join('\n');
}

/** Graphviz `digraph`, edges pointing the way data flows. */
function dot(p: Pipeline): string {
  const lines = [`digraph ${quote(p.displayName)} {`, '  rankdir=LR;', '  node [shape=box];'];
  for (const s of p.stages) lines.push(`  ${quote(s.name)};`);
  for (const s of p.stages) for (const n of s.needs) lines.push(`  ${quote(n)} -> ${quote(s.name)};`);
  lines.push('}');
  return lines.join('\n');
}

/** Draw the pipeline's DAG. */
export function formatDag(p: Pipeline, format: DagFormat): string {
  switch (format) {
    case 'text':
      return text(p);
    case 'mermaid':
      return mermaid(p);
    case 'dot':
      return dot(p);
  }
}
