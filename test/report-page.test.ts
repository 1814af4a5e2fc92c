/**
 * The report of a small real run (the toy pipeline through the real CLI): its HTML structure
 * without a browser, then the page in headless Chromium — no console errors, no network
 * requests, every chart drawn with visible marks, and a screenshot under test-artifacts/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Workspace } from './helpers/rig.js';
import { ARTIFACTS, chromiumMissing, viewPage } from './helpers/chromium.js';
import { TOY_STAGES, runToy, toyWorkspace } from './fixtures/report/toy-workspace.js';

/** Every chart the toy run must produce, with the fewest marks each must hold. */
const CHARTS: Record<string, number> = {
  dag: 8,
  timeline: 8,
  'label-distribution': 24,
  'failures:fetch': 3,
  'loss:train-a': 2,
  'f1:train-a': 2,
  'loss:train-b': 2,
  'f1:train-b': 2,
  'pso:ensemble': 2,
  holdout: 6,
  'per-label:threshold': 24,
  experiments: 2,
};

let ws: Workspace;
let reportPath: string;
let html: string;

before(async () => {
  ws = await toyWorkspace();
  const final = await runToy(ws);
  const line = /wrote report (.+)/.exec(final.stderr);
  assert.ok(line, `run --report names the file it wrote: ${final.stderr}`);
  reportPath = (line[1] as string).trim();
  assert.equal(reportPath, ws.path('outputs', 'toy-report.html'), 'default path: outputs/<pipeline>-report.html');
  const parsed = JSON.parse(final.stdout.trim().split('\n').pop() ?? '{}') as {
    stages: Array<{ name: string; action: string }>;
  };
  assert.deepEqual(
    parsed.stages.map((s) => s.name),
    TOY_STAGES,
    '--json output stays one object on stdout',
  );
  html = await readFile(reportPath, 'utf8');
});

after(async () => {
  await ws?.dispose();
});

/** The HTML of each `<figure class="chart">`, by its data-chart id. */
function chartsOf(page: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of page.matchAll(/<figure class="chart" data-chart="([^"]+)">([\s\S]*?)<\/figure>/g))
    out.set(m[1] as string, m[2] as string);
  return out;
}

test('the page is self-contained: no scripts, nothing fetched, pictures inline', () => {
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?(https?:|\/\/)/i, 'no external src or href');
  assert.doesNotMatch(html, /url\(\s*["']?(https?:|\/\/)/i, 'no external CSS url()');
  assert.doesNotMatch(html, /@import/i);
  assert.match(html, /http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:;/);
  const imgs = [...html.matchAll(/<img [^>]*src="([^"]*)"/g)].map((m) => m[1] as string);
  assert.ok(imgs.length >= 2, `the preview and the stage picture are embedded (${imgs.length})`);
  for (const src of imgs) assert.match(src, /^data:image\/(png|jpeg|svg\+xml|gif|webp);base64,/);
});

test('every section is there and every chart has marks', () => {
  for (const id of ['pipeline', 'data', 'models', 'experiments', 'stages'])
    assert.match(html, new RegExp(`<section id="${id}">`));
  const charts = chartsOf(html);
  for (const [id, min] of Object.entries(CHARTS)) {
    const body = charts.get(id);
    assert.ok(body, `chart ${id} is present (have: ${[...charts.keys()].join(', ')})`);
    const marks = body.match(/class="mark"/g)?.length ?? 0;
    assert.ok(marks >= min, `chart ${id} has ${marks} marks, expected at least ${min}`);
    assert.match(body, /class="legend"/, `chart ${id} has a legend`);
  }
  assert.doesNotMatch(
    html,
    /class="missing"/,
    `nothing is missing from the toy run: ${/class="missing">([^<]*)/.exec(html)?.[1]}`,
  );
});

test('the page says what happened: states, parallel stages, experiments, sources', () => {
  const dag = chartsOf(html).get('dag') as string;
  for (const s of TOY_STAGES) assert.match(dag, new RegExp(`data-stage="${s}" data-state="(ran|cached)"`));
  assert.match(dag, /data-stage="train-a" data-state="ran"/);
  assert.match(dag, /data-stage="split" data-state="cached"/);
  assert.match(html, /up to 2 stages at once/, 'train-a and train-b ran side by side');
  assert.match(html, /lr-0\.05/);
  assert.match(html, /lr-0\.1/);
  assert.match(html, /<th>train-a\.lr<\/th>/, 'the differing param is a column of the experiments table');
  assert.match(html, /from split\/label-frequency\.csv/);
  assert.match(html, /dress \(1\)/, 'label names from the label map');
  assert.match(html, /phases: head → fine-tune/, 'train-b’s two phases from epochs.jsonl');
  assert.match(html, /frequency baseline \(top 2\)/);
  assert.match(html, /http 404/);
  assert.match(html, /<figcaption>sample\.png<\/figcaption>/, 'a stage’s own picture in its card');
});

test('in headless Chromium: no console errors, no requests, every chart drawn, screenshot saved', async (t) => {
  const missingBrowser = chromiumMissing();
  if (missingBrowser) {
    t.skip(missingBrowser);
    return;
  }
  const seen = await viewPage(reportPath, 'report');
  for (const [id, min] of Object.entries(CHARTS)) {
    const c = seen.charts.find((x) => x.id === id);
    assert.ok(c, `chart ${id} rendered`);
    assert.ok(c.width > 100 && c.height > 80, `chart ${id} has a size (${c.width}x${c.height})`);
    assert.ok(c.visibleMarks >= min, `chart ${id}: ${c.visibleMarks} visible marks, expected at least ${min}`);
    assert.ok(c.legend > 0, `chart ${id} has a legend`);
  }
  assert.ok(seen.images.length >= 2);
  for (const i of seen.images) assert.ok(i.ok, `picture ${i.alt} decoded`);
  assert.ok(seen.overflow <= 0, `no sideways scrolling of the page on a 1366 px screen (${seen.overflow} px too wide)`);
  assert.ok(existsSync(join(ARTIFACTS, 'report-full.png')));
  assert.deepEqual(seen.errors, [], 'no console errors or warnings');
  assert.deepEqual(seen.requests, [], 'no request besides the page itself');
});
