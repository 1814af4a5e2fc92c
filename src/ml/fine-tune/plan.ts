/**
 * What fine-tune-backbone trains and how: the tail (the last N weight layers after a cut), the
 * point where trunk activations are cached, which multi-scale stage ends fall before the cache
 * point, between it and the cut, and in the tail; the route that trains the tail and the kind of
 * ops it uses on this backend.
 */
import type { BackendName } from '../backend.js';
import type { Graph } from '../graph.js';
import { cachePoint, planTail, stageEnds, type Flavour, type TailPlan } from '../graph-train.js';
import { chooseRoute, type RouteName } from './routes.js';

export interface FineTunePlan {
  graph: Graph;
  tail: TailPlan;
  /** Node whose activation is cached per image. */
  cacheAt: string;
  /** Multi-scale stage ends (empty when multi-scale is off), split by where they lie. */
  ends: string[];
  endsCached: string[];
  endsMid: string[];
  endsTail: string[];
  /** What the head reads from the tail: its stage ends, then the graph's output. */
  tailOutputs: string[];
  route: RouteName;
  flavour: Flavour;
}

export function planFineTune(
  graph: Graph,
  opts: { unfreeze: number; multiscale: boolean; route: 'auto' | RouteName },
  backend: BackendName,
): FineTunePlan {
  const tail = planTail(graph, opts.unfreeze);
  const cacheAt = cachePoint(graph, tail);
  const pos = new Map(graph.nodes.map((n, i) => [n.id, i]));
  const at = (id: string): number => pos.get(id)!;
  const ends = opts.multiscale ? stageEnds(graph) : [];
  const endsTail = ends.filter((id) => at(id) > at(tail.cut));
  return {
    graph,
    tail,
    cacheAt,
    ends,
    endsCached: ends.filter((id) => at(id) <= at(cacheAt)),
    endsMid: ends.filter((id) => at(id) > at(cacheAt) && at(id) <= at(tail.cut)),
    endsTail,
    tailOutputs: [...endsTail, graph.output],
    route: chooseRoute(opts.route, backend),
    // Convolution gradients exist on the native backends and cpu; wasm has only matmul-style ones.
    flavour: backend === 'wasm' ? 'matmul' : 'native',
  };
}
