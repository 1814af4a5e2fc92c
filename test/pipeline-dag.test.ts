/** DAG queries and drawings on a real loaded pipeline. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { downstream, formatDag, upstream } from '../src/pipeline/dag.js';
import { loadPipeline } from '../src/pipeline/load.js';
import type { Pipeline } from '../src/pipeline/types.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

function load(file: string): Pipeline {
  const r = loadPipeline(join(fixtures, 'pipelines', file), { workdir: fixtures });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  return r.value;
}

const sorted = (s: Set<string>) => [...s].sort();

test('upstream: the stages themselves and everything they need; group names expand', () => {
  const p = load('templating.yaml');
  assert.deepEqual(sorted(upstream(p, ['head@inception_v3-0.1'])), [
    'fetch',
    'head@inception_v3-0.1',
    'pad',
    'precompute@inception_v3',
  ]);
  assert.deepEqual(sorted(upstream(p, ['precompute'])), [
    'fetch',
    'pad',
    'precompute@inception_v3',
    'precompute@mobilenet_v2',
  ]);
  assert.deepEqual(sorted(upstream(p, ['sweep@large'])), ['sweep@large']);
  assert.deepEqual(sorted(upstream(p, ['no-such-stage'])), []);
});

test('downstream: the stages themselves and everything that needs them', () => {
  const p = load('templating.yaml');
  assert.deepEqual(sorted(downstream(p, ['precompute@mobilenet_v2'])), [
    'ensemble',
    'head@mobilenet_v2-0.01',
    'head@mobilenet_v2-0.1',
    'precompute@mobilenet_v2',
  ]);
  assert.equal(downstream(p, ['fetch']).size, p.stages.length - 3, 'all but the three sweep members');
  assert.deepEqual(sorted(downstream(p, ['sweep'])), ['ensemble', 'sweep@2', 'sweep@large', 'sweep@small_one']);
});

test('text: one line per stage in run order, indented by depth, with its needs', () => {
  const p = load('extends/child.yaml');
  assert.equal(
    formatDag(p, 'text'),
    [
      'fetch (cmd)',
      '  pad (uses stages/params-demo.ts)  <- fetch',
      '    report (uses stages/params-demo.ts)  <- pad',
      '    split (cmd)  <- pad',
    ].join('\n'),
  );
});

test('mermaid: graph TD with a node per stage and an edge per need', () => {
  const p = load('extends/child.yaml');
  assert.equal(
    formatDag(p, 'mermaid'),
    [
      'graph TD',
      '  s0["fetch"]',
      '  s1["pad"]',
      '  s2["report"]',
      '  s3["split"]',
      '  s0 --> s1',
      '  s1 --> s2',
      '  s1 --> s3',
    ].join('\n'),
  );
});

test('dot: a digraph with quoted names (foreach names hold @ and .)', () => {
  const p = load('templating.yaml');
  const dot = formatDag(p, 'dot');
  assert.ok(dot.startsWith('digraph "templating" {\n'));
  assert.ok(dot.endsWith('\n}'));
  assert.ok(dot.includes('  "precompute@inception_v3" -> "head@inception_v3-0.01";\n'));
  const edges = dot.split('\n').filter((l) => l.includes(' -> '));
  assert.equal(
    edges.length,
    p.stages.reduce((n, s) => n + s.needs.length, 0),
  );
});
