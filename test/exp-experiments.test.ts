/** `tailor exp run|show|diff` (baseline, differences, fitted table) on a toy pipeline of cmd stages sharing one cache (the real CLI). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace, withAction } from './helpers/rig.js';

// a -> b -> d, a -> c -> d. b writes data and a holdout micro-F1 that depend on n; every stage
// appends its name to runs.log when it really executes.
const CHAIN = `
vars: { greeting: hello }
stages:
  a:
    cmd: "echo a >> runs.log && echo \${params.text} > \${out}/a.txt"
    params: { text: "\${vars.greeting}" }
  b:
    cmd: "echo b >> runs.log && cat \${needs.a}/a.txt > \${out}/b.txt && echo n=\${params.n} >> \${out}/b.txt && printf '{\\"holdout\\":{\\"micro_f1\\":0.%s},\\"loss\\":%s}' \${params.n} \${params.lr} > \${out}/metrics.json"
    needs: [a]
    params: { n: 1, lr: 0.5, head: dense }
  c:
    cmd: "echo c >> runs.log && wc -c < \${needs.a}/a.txt > \${out}/c.txt"
    needs: [a]
    params: { unit: bytes }
  d:
    cmd: "echo d >> runs.log && cat \${needs.b}/b.txt \${needs.c}/c.txt > \${out}/d.txt"
    needs: [b, c]
`;

// The same variant as `--set b.n=2`, written as a pipeline that extends the base one.
const CHILD = `
extends: chain.yaml
stages:
  b:
    params: { n: 2 }
`;

interface ShowRow {
  run: number;
  name: string;
  baseline: boolean;
  pipeline: string;
  params: Record<string, unknown>;
  changed: string[];
  metrics: Record<string, number>;
  deltas: Record<string, number>;
  best: string[];
  sets: string[];
  stages: Record<string, { action: string; key: string; seconds: number }>;
}

interface ShowJson {
  columns: { params: string[]; metrics: string[]; titles: Record<string, string> };
  baselines: ShowRow[];
  experiments: ShowRow[];
}

async function workspace(): Promise<Workspace> {
  const ws = await Workspace.create('tailor-exp-');
  await ws.write('pipelines/chain.yaml', CHAIN);
  await ws.write('pipelines/chain-n2.yaml', CHILD);
  return ws;
}

async function show(ws: Workspace, ...args: string[]): Promise<ShowJson> {
  const r = await ws.tailor(['exp', 'show', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ShowJson;
}

async function expRun(ws: Workspace, args: string[]): Promise<Record<string, string>> {
  const r = await ws.tailor(['exp', 'run', ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const parsed = JSON.parse(r.stdout.trim().split('\n').pop()!) as { stages: Array<{ name: string; action: string }> };
  return Object.fromEntries(parsed.stages.map((s) => [s.name, s.action]));
}

test('exp run: an override reruns only what it changes, shares upstream outputs, and an extends file gives the same keys', async () => {
  const ws = await workspace();
  try {
    const base = await expRun(ws, ['pipelines/chain.yaml', '--name', 'base']);
    assert.deepEqual(withAction(base, 'ran'), ['a', 'b', 'c', 'd']);
    await ws.clearRuns();

    const n2 = await expRun(ws, ['pipelines/chain.yaml', '--name', 'n2', '--set', 'b.n=2']);
    assert.deepEqual(withAction(n2, 'ran'), ['b', 'd']);
    assert.deepEqual(await ws.runCounts(), { b: 1, d: 1 }, 'a and c came from the shared cache');
    assert.equal(ws.exists('pipelines/chain.lock.json'), false, 'experiments never write the lock file');
    await ws.clearRuns();

    // The extends variant is another pipeline with the same stage definitions: nothing runs.
    const child = await expRun(ws, ['pipelines/chain-n2.yaml', '--name', 'n2-file']);
    assert.deepEqual(withAction(child, 'cached'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(await ws.runCounts(), {});

    const runs = (await show(ws, '--all')).experiments;
    assert.deepEqual(
      runs.map((r) => r.name),
      ['base', 'n2', 'n2-file'],
    );
    const [b0, b2, f2] = runs as [ShowRow, ShowRow, ShowRow];
    assert.equal(b0.stages.a!.key, b2.stages.a!.key, 'unchanged upstream: same key');
    assert.equal(b0.stages.c!.key, b2.stages.c!.key);
    assert.notEqual(b0.stages.b!.key, b2.stages.b!.key, 'overridden stage: new key');
    assert.notEqual(b0.stages.d!.key, b2.stages.d!.key, 'downstream of the override: new key');
    for (const s of ['a', 'b', 'c', 'd'])
      assert.equal(f2.stages[s]!.key, b2.stages[s]!.key, `extends and --set agree on ${s}`);
    assert.equal(f2.pipeline, 'pipelines/chain-n2.yaml');
    assert.equal(b2.params['b.n'], 2, 'resolved params are recorded with their types');
    assert.equal(b2.metrics['b.holdout.micro_f1'], 0.2);
  } finally {
    await ws.dispose();
  }
});

test('exp show: a baseline row and three experiments as differences from it, fitted to the width', async () => {
  const ws = await workspace();
  try {
    const plain = await ws.run(['pipelines/chain.yaml']);
    assert.equal(plain.code, 0, plain.result.stderr);
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'more-n', '--set', 'b.n=7']);
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'low-lr', '--set', 'b.lr=0.25']);
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'same']);

    const json = await show(ws);
    assert.deepEqual(json.columns.params, ['b.lr', 'b.n'], 'a.text, b.head and c.unit are equal in every run');
    assert.deepEqual(json.columns.metrics, ['b.holdout.micro_f1'], 'the headline metric by default');
    assert.equal(json.columns.titles['b.holdout.micro_f1'], 'b', 'a headline column is named by its stage');
    assert.deepEqual(
      json.baselines.map((b) => [b.name, b.baseline, b.params]),
      [['baseline', true, { 'b.lr': 0.5, 'b.n': 1 }]],
      'the last plain run is the baseline',
    );
    assert.deepEqual(
      json.experiments.map((e) => [e.name, e.changed]),
      [
        ['more-n', ['b.n']],
        ['low-lr', ['b.lr']],
        ['same', []],
      ],
    );
    const [moreN] = json.experiments;
    assert.ok(Math.abs(moreN!.deltas['b.holdout.micro_f1']! - 0.6) < 1e-9);
    assert.deepEqual(moreN!.best, ['b.holdout.micro_f1']);
    assert.deepEqual(moreN!.sets, ['b.n=7']);
    assert.deepEqual(
      json.experiments.map((e) => e.metrics['b.loss']),
      [0.5, 0.25, 0.5],
      'JSON keeps every metric',
    );

    const text = await ws.tailor(['exp', 'show'], { COLUMNS: '200' });
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.match(lines[0]!, /^baseline: the last plain `tailor run` \(#1 /);
    const header = lines.findIndex((l) => l.startsWith('name'));
    assert.match(lines[header]!, /^name\s+b\.lr\s+b\.n\s+b\s+seconds\s+run\s+when\s+ran$/);
    assert.match(lines[header + 1]!, /^baseline \(tailor run\)\s+0\.5\s+1\s+0\.1000\s+[\d.]+\s+#1\s/);
    assert.match(lines[header + 2]!, /^more-n\s+·\s+7\s+\*0\.7000 \+0\.6000\s/, 'the changed param and the delta');
    assert.match(lines[header + 3]!, /^low-lr\s+0\.25\s+·\s+0\.1000 ±0\s/);
    assert.doesNotMatch(text.stdout, /a\.text|b\.head|c\.unit|b\.loss/);
    assert.match(text.stdout, /3 param\(s\) equal in every row hidden/);

    const narrow = await ws.tailor(['exp', 'show'], { COLUMNS: '44' });
    for (const l of narrow.stdout.trimEnd().split('\n')) assert.ok(l.length <= 44, `"${l}" fits 44 columns`);
    assert.match(narrow.stdout, /more-n .*\*0\.7000/, 'name and headline metric stay');
    assert.match(narrow.stdout, /left out to fit 44 columns: ran, when, run/);

    const all = await ws.tailor(['exp', 'show', '--all', '--width', '300']);
    assert.match(all.stdout, /name\s+a\.text\s+b\.head\s+b\.lr\s+b\.n\s+c\.unit\s+b\.micro_f1\s+b\.loss/);
    assert.match(all.stdout, /low-lr .* \*0\.2500 -0\.2500/, 'a loss is best when lowest');

    const picked = await ws.tailor(['exp', 'show', '--columns', 'b.n,loss', '--sort-by', 'b.loss', '--width', '300']);
    const pickedLines = picked.stdout.split('\n');
    const ph = pickedLines.findIndex((l) => l.startsWith('name'));
    assert.match(pickedLines[ph]!, /^name\s+b\.n\s+b\.loss\s+seconds/);
    assert.deepEqual(
      pickedLines.slice(ph + 1, ph + 5).map((l) => l.split(/\s+/)[0]),
      ['baseline', 'low-lr', 'more-n', 'same'],
      'the baseline stays on top; then by loss, best first',
    );
    const badSort = await ws.tailor(['exp', 'show', '--sort-by', 'nope']);
    assert.equal(badSort.code, 2);
    assert.match(badSort.stderr, /--sort-by "nope": no such column; shown: name, b\.lr, b\.n, b/);

    const csv = (await ws.tailor(['exp', 'show', '--csv', '--metric', 'loss'])).stdout.trim().split('\n');
    assert.deepEqual(csv[0]!.split(','), [
      'run',
      'name',
      'baseline',
      'pipeline',
      'started_at',
      'status',
      'b.loss',
      'seconds',
      'seconds.a',
      'seconds.b',
      'seconds.c',
      'seconds.d',
    ]);
    assert.equal(csv.length, 5);
    assert.match(csv[1]!, /^1,baseline,yes,pipelines\/chain\.yaml,[^,]+,ok,0\.5,/);
    assert.match(csv[3]!, /^3,low-lr,no,pipelines\/chain\.yaml,[^,]+,ok,0\.25,/);

    const md = (await ws.tailor(['exp', 'show', '--md'])).stdout.split('\n');
    assert.match(md[0]!, /^\| name \| b\.lr \| b\.n \| b \| seconds \| run \| when \| ran \|$/);
    assert.match(md[1]!, /^\| --- \| --- \| --- \| ---: \|/);
    assert.match(md[3]!, /^\| more-n \| · \| 7 \| \*0\.7000 \+0\.6000 \|/);

    const filtered = await show(ws, '--name', 'low-lr');
    assert.deepEqual(
      filtered.experiments.map((e) => e.name),
      ['low-lr'],
    );
  } finally {
    await ws.dispose();
  }
});

test('exp diff: old → new params, changed stage keys, metric deltas; one name diffs against the baseline', async () => {
  const ws = await workspace();
  try {
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'base']);
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'tuned', '--set', 'b.n=4', '--set', 'c.unit=chars']);

    const r = await ws.tailor(['exp', 'diff', 'base', 'tuned', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as {
      params: Array<{ param: string; a: unknown; b: unknown }>;
      keys: Array<{ stage: string }>;
      metrics: Array<{ metric: string; delta: number }>;
    };
    assert.deepEqual(d.params, [
      { param: 'b.n', a: 1, b: 4 },
      { param: 'c.unit', a: 'bytes', b: 'chars' },
    ]);
    assert.deepEqual(d.keys.map((k) => k.stage).sort(), ['b', 'c', 'd'], 'a kept its key');
    assert.equal(d.metrics.length, 1);
    assert.equal(d.metrics[0]!.metric, 'b.holdout.micro_f1');
    assert.ok(Math.abs(d.metrics[0]!.delta - 0.3) < 1e-12);

    const text = await ws.tailor(['exp', 'diff', 'base', '#2']);
    assert.match(text.stdout, /base \(#1\) → tuned \(#2\)/);
    assert.match(text.stdout, /b\.n\s+1 → 4/);
    assert.match(text.stdout, /c\.unit\s+bytes → chars/);
    assert.match(text.stdout, /b\.holdout\.micro_f1\s+0\.1000 → 0\.4000\s+\+0\.3000/);

    const noBase = await ws.tailor(['exp', 'diff', 'tuned']);
    assert.equal(noBase.code, 2);
    assert.match(noBase.stderr, /no plain `tailor run` of pipelines\/chain\.yaml to be the baseline/);
    assert.equal((await ws.run(['pipelines/chain.yaml'])).code, 0);
    const vsBase = await ws.tailor(['exp', 'diff', 'tuned']);
    assert.equal(vsBase.code, 0, vsBase.stderr);
    assert.match(vsBase.stdout, /baseline \(#3\) → tuned \(#2\)/);
    assert.match(vsBase.stdout, /b\.n\s+1 → 4/);

    const missing = await ws.tailor(['exp', 'diff', 'base', 'nope']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no experiment run "nope"; known: base, tuned/);
    const reserved = await ws.tailor(['exp', 'run', 'pipelines/chain.yaml', '--name', 'baseline']);
    assert.equal(reserved.code, 2);
    assert.match(reserved.stderr, /"baseline" names the last plain `tailor run`/);
  } finally {
    await ws.dispose();
  }
});
