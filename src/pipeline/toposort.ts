/**
 * Topological order of the stages (needs first), ties broken by file order; a cycle becomes one
 * Diagnostic `cycle: a -> b -> a` with a related position at every `needs` edge on it.
 */
import { error, keyPath } from './diagnostics.js';
import type { Edge } from './needs.js';
import type { Diagnostic } from './types.js';
import { err, ok, type Result } from '../result.js';

/** A binary min-heap of indices (file order), so picking the next ready stage is O(log n). */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if ((a[p] ?? 0) <= v) break;
      a[i] = a[p] ?? 0;
      a[p] = v;
      i = p;
    }
  }
  pop(): number | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && (a[l] ?? 0) < (a[m] ?? 0)) m = l;
      if (r < a.length && (a[r] ?? 0) < (a[m] ?? 0)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m] ?? 0, a[i] ?? 0];
      i = m;
    }
    return top;
  }
}

/**
 * Order `names` (given in file order) so every stage comes after what it needs (Kahn's algorithm,
 * always taking the earliest ready stage in file order).
 */
export function topoSort(
  names: string[],
  needs: Map<string, Edge[]>,
  groupOf: (name: string) => string,
): Result<string[], Diagnostic[]> {
  const index = new Map(names.map((n, i) => [n, i]));
  const pending = names.map((n) => (needs.get(n) ?? []).length);
  const dependents: number[][] = names.map(() => []);
  names.forEach((n, i) => {
    for (const e of needs.get(n) ?? []) dependents[index.get(e.to) ?? 0]?.push(i);
  });
  const ready = new MinHeap();
  pending.forEach((count, i) => count === 0 && ready.push(i));
  const order: string[] = [];
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    order.push(names[i] ?? '');
    for (const d of dependents[i] ?? []) {
      pending[d] = (pending[d] ?? 0) - 1;
      if (pending[d] === 0) ready.push(d);
    }
  }
  if (order.length === names.length) return ok(order);
  return err([cycleDiagnostic(names, needs, new Set(names.filter((_, i) => (pending[i] ?? 0) > 0)), groupOf)]);
}

/** Walk needs among the stages left over until one repeats: that loop is a cycle. */
function cycleDiagnostic(
  names: string[],
  needs: Map<string, Edge[]>,
  left: Set<string>,
  groupOf: (name: string) => string,
): Diagnostic {
  let cur = names.find((n) => left.has(n)) ?? '';
  const path: string[] = [];
  const at = new Map<string, number>();
  const via: Edge[] = [];
  while (!at.has(cur)) {
    at.set(cur, path.length);
    path.push(cur);
    // Every leftover stage still waits on a leftover stage, so this edge exists.
    const edge = (needs.get(cur) ?? []).find((e) => left.has(e.to));
    if (!edge) break;
    via.push(edge);
    cur = edge.to;
  }
  const start = at.get(cur) ?? 0;
  const loop = path.slice(start);
  const edges = via.slice(start);
  const related = edges.map((e, i) => ({ message: `"${loop[i] ?? ''}" needs "${e.to}"`, pos: e.pos }));
  const first = edges[0];
  return error(
    `cycle: ${[...loop, cur].join(' -> ')}`,
    first?.pos,
    keyPath('stages', groupOf(loop[0] ?? ''), 'needs'),
    undefined,
    related,
  );
}
