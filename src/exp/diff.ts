/** `tailor exp diff A B`: what differs between two experiment runs — params, stage keys, metrics. */
import { canonicalJson } from '../run/canonical-json.js';
import { paramText } from './flat.js';
import { formatCell } from '../util/format.js';
import type { ExpRun } from './history.js';
import { renderTable } from './text-table.js';

export interface ExpDiff {
  a: { run: number; name: string };
  b: { run: number; name: string };
  params: Array<{ param: string; a: unknown; b: unknown }>;
  keys: Array<{ stage: string; a: string | null; b: string | null }>;
  metrics: Array<{ metric: string; a: number | null; b: number | null; delta: number | null }>;
}

export function diffRuns(a: ExpRun, b: ExpRun): ExpDiff {
  const union = (x: object, y: object) => [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
  const params = union(a.params, b.params)
    .filter((p) => !(p in a.params && p in b.params) || canonicalJson(a.params[p]) !== canonicalJson(b.params[p]))
    .map((p) => ({ param: p, a: p in a.params ? a.params[p] : null, b: p in b.params ? b.params[p] : null }));
  const stages = [...new Set([...Object.keys(a.stages), ...Object.keys(b.stages)])];
  const keys = stages
    .map((s) => ({ stage: s, a: a.stages[s]?.key || null, b: b.stages[s]?.key || null }))
    .filter((k) => k.a !== k.b);
  const metrics = union(a.metrics, b.metrics)
    .map((m) => {
      const x = a.metrics[m];
      const y = b.metrics[m];
      return { metric: m, a: x ?? null, b: y ?? null, delta: x !== undefined && y !== undefined ? y - x : null };
    })
    .filter((m) => m.a !== m.b);
  return { a: { run: a.id, name: a.name }, b: { run: b.id, name: b.name }, params, keys, metrics };
}

export function formatDiff(d: ExpDiff): string {
  const head = `${d.a.name} (#${d.a.run}) -> ${d.b.name} (#${d.b.run})\n`;
  const parts: string[] = [head];
  const none = (what: string) => `\n${what}: none changed\n`;
  parts.push(
    d.params.length === 0
      ? none('params')
      : `\nparams:\n${indent(
          renderTable(
            [{ title: 'param' }, { title: d.a.name }, { title: d.b.name }],
            d.params.map((p) => [
              p.param,
              p.a === null ? '(unset)' : paramText(p.a),
              p.b === null ? '(unset)' : paramText(p.b),
            ]),
          ),
        )}`,
  );
  parts.push(
    d.keys.length === 0
      ? none('stage keys')
      : `\nstage keys:\n${indent(
          renderTable(
            [{ title: 'stage' }, { title: d.a.name }, { title: d.b.name }],
            d.keys.map((k) => [k.stage, short(k.a), short(k.b)]),
          ),
        )}`,
  );
  parts.push(
    d.metrics.length === 0
      ? none('metrics')
      : `\nmetrics:\n${indent(
          renderTable(
            [
              { title: 'metric', max: 60 },
              { title: d.a.name, right: true },
              { title: d.b.name, right: true },
              { title: 'delta', right: true },
            ],
            d.metrics.map((m) => [
              m.metric,
              formatCell(m.a ?? undefined),
              formatCell(m.b ?? undefined),
              m.delta === null ? '' : signed(m.delta),
            ]),
          ),
        )}`,
  );
  return parts.join('');
}

function short(key: string | null): string {
  return key === null ? '(none)' : key.slice(0, 12);
}

function signed(x: number): string {
  return `${x > 0 ? '+' : ''}${formatCell(x)}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}
