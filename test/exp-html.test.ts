/**
 * `tailor exp show --html FILE` after a baseline and a 2×2 sweep (the real CLI on a toy pipeline):
 * the page is self-contained, holds the table with the baseline row, the headline chart and one
 * scatter per swept param, and renders in headless Chromium without console errors or requests.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Workspace } from './helpers/rig.js';
import { chromiumMissing, viewPage } from './helpers/chromium.js';

const PIPE = `
stages:
  a:
    cmd: "echo a > \${out}/a.txt"
  b:
    cmd: "printf '{\\"holdout\\":{\\"micro_f1\\":0.%s%s}}' \${params.n} \${params.lr} > \${out}/metrics.json"
    needs: [a]
    params: { n: 1, lr: 5 }
`;

/** Each chart the page must have, with the fewest marks it must show. */
const CHARTS: Record<string, number> = { experiments: 5, 'sweep:b.n': 5, 'sweep:b.lr': 5 };

let ws: Workspace;
let html: string;
const file = () => ws.path('outputs', 'experiments.html');

before(async () => {
  ws = await Workspace.create('tailor-exp-html-');
  await ws.write('pipelines/toy.yaml', PIPE);
  assert.equal((await ws.run(['pipelines/toy.yaml'])).code, 0);
  const sweep = await ws.tailor([
    'exp',
    'run',
    'pipelines/toy.yaml',
    '--set',
    'b.n=2,3',
    '--set',
    'b.lr=4,6',
    '--name',
    '<g>',
    '--quiet',
  ]);
  assert.equal(sweep.code, 0, sweep.stderr);
  const r = await ws.tailor(['exp', 'show', '--html', 'outputs/experiments.html']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /wrote .*experiments\.html/);
  html = await readFile(file(), 'utf8');
});

after(async () => {
  await ws?.dispose();
});

test('the page: self-contained, the table with its baseline row, a headline chart and a scatter per swept param', () => {
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?(https?:|\/\/)/i);
  assert.match(html, /<strong>baseline<\/strong>/);
  assert.match(html, /<th[^>]*>b\.lr<\/th><th[^>]*>b\.n<\/th>/, 'the swept params are columns');
  assert.match(html, /&lt;g&gt;-n=3-lr=6/, 'names are escaped');
  assert.doesNotMatch(html, /<g>/);
  for (const id of Object.keys(CHARTS)) assert.match(html, new RegExp(`data-chart="${id}"`));
});

test('in headless Chromium: no console errors, no requests, every chart drawn', async (t) => {
  const missingBrowser = chromiumMissing();
  if (missingBrowser) {
    t.skip(missingBrowser);
    return;
  }
  const seen = await viewPage(file(), 'exp-show');
  for (const [id, min] of Object.entries(CHARTS)) {
    const c = seen.charts.find((x) => x.id === id);
    assert.ok(c, `chart ${id} rendered (have ${seen.charts.map((x) => x.id).join(', ')})`);
    assert.ok(c.width > 100 && c.height > 80, `chart ${id} has a size (${c.width}x${c.height})`);
    assert.ok(c.visibleMarks >= min, `chart ${id}: ${c.visibleMarks} visible marks, expected at least ${min}`);
    assert.ok(c.legend > 0, `chart ${id} has a legend`);
  }
  assert.ok(seen.overflow <= 0, `no sideways scrolling on a 1366 px screen (${seen.overflow} px too wide)`);
  assert.deepEqual(seen.errors, [], 'no console errors or warnings');
  assert.deepEqual(seen.requests, [], 'no request besides the page itself');
});
