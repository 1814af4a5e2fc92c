/**
 * `tailor report` through the real CLI on pipelines that show little: never run, a failed stage
 * and its skipped dependent, a stale stage; --out and --metric. Every section still renders and
 * says plainly what is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace } from './helpers/rig.js';
import { toyWorkspace } from './fixtures/report/toy-workspace.js';

// a -> b (fails) -> c ; a writes a metric and a picture-less output.
const FAILING = `
stages:
  a:
    cmd: "echo '{\\"value\\": \${params.x}}' > \${out}/metrics.json"
    params: { x: 1 }
  b:
    cmd: "echo 'toy failure: the disk is full' >&2 && exit 3"
    needs: [a]
  c:
    cmd: "echo c > \${out}/c.txt"
    needs: [b]
`;

/** State of each stage in the DAG drawing of a report. */
function dagStates(html: string): Record<string, string> {
  return Object.fromEntries([...html.matchAll(/data-stage="([^"]+)" data-state="([^"]+)"/g)].map((m) => [m[1], m[2]]));
}

test('a pipeline never run: the report renders and says what is missing', async () => {
  const ws = await toyWorkspace();
  try {
    const r = await ws.tailor(['report', 'pipelines/toy.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*outputs\/toy-report\.html/);
    const html = await ws.read('outputs/toy-report.html');
    assert.ok(
      Object.values(dagStates(html)).every((s) => s === 'never-run'),
      JSON.stringify(dagStates(html)),
    );
    assert.match(html, /No run of this pipeline is recorded/);
    assert.match(html, /split has no output yet/);
    assert.match(html, /No stage has an output yet/);
    assert.match(html, /No experiment runs in this cache yet/);
    assert.doesNotMatch(html, /<script/i);
  } finally {
    await ws.dispose();
  }
});

test('failed, skipped and stale stages; the failed stage’s log; --out and --metric', async () => {
  const ws = await Workspace.create('tailor-report-');
  try {
    await ws.write('pipelines/p.yaml', FAILING);
    const run = await ws.tailor(['run', 'pipelines/p.yaml', '--report']);
    assert.equal(run.code, 1, 'the run fails');
    assert.match(run.stderr, /wrote report .*outputs\/p-report\.html/, 'a failed run still gets its report');
    let html = await ws.read('outputs/p-report.html');
    assert.deepEqual(dagStates(html), { a: 'ran', b: 'failed', c: 'skipped' });
    assert.match(html, /<pre class="log">[^<]*toy failure: the disk is full/, 'the end of the failed stage’s log');
    assert.match(html, /No model stages in this pipeline/);
    assert.match(html, /No pad stage in this pipeline/);
    assert.match(html, /No fetch stage in this pipeline/);

    const stale = await ws.tailor([
      'report',
      'pipelines/p.yaml',
      '--set',
      'a.x=2',
      '--out',
      'elsewhere/r.html',
      '--metric',
      'a.value',
    ]);
    assert.equal(stale.code, 0, stale.stderr);
    assert.match(stale.stdout, /wrote .*elsewhere\/r\.html/);
    html = await ws.read('elsewhere/r.html');
    assert.equal(dagStates(html).a, 'stale');
    assert.match(html, /param x: 1 -&gt; 2/, 'the reason in words');

    const bad = await ws.tailor(['report', 'pipelines/p.yaml', '--metric', 'nope.value']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--metric expects STAGE\.PATH/);
  } finally {
    await ws.dispose();
  }
});
