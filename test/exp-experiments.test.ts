/** `tailor exp run|show|diff` on a toy pipeline of cmd stages sharing one cache (the real CLI). */
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

interface ShowJson {
  columns: { params: string[]; metrics: string[] };
  experiments: Array<{
    run: number;
    name: string;
    pipeline: string;
    params: Record<string, unknown>;
    metrics: Record<string, number>;
    stages: Record<string, { action: string; key: string; seconds: number }>;
  }>;
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
    const [b0, b2, f2] = runs as [ShowJson['experiments'][0], ShowJson['experiments'][0], ShowJson['experiments'][0]];
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

test('exp show: three runs show only the params that differ; --all, --csv and metric columns', async () => {
  const ws = await workspace();
  try {
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'base']);
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'more-n', '--set', 'b.n=7']);
    await expRun(ws, ['pipelines/chain.yaml', '--name', 'low-lr', '--set', 'b.lr=0.25']);

    const json = await show(ws);
    assert.deepEqual(json.columns.params, ['b.lr', 'b.n'], 'a.text, b.head and c.unit are equal in every run');
    assert.deepEqual(json.columns.metrics, ['b.holdout.micro_f1'], 'headline metric by default');
    assert.deepEqual(
      json.experiments.map((e) => e.params),
      [
        { 'b.lr': 0.5, 'b.n': 1 },
        { 'b.lr': 0.5, 'b.n': 7 },
        { 'b.lr': 0.25, 'b.n': 1 },
      ],
    );
    assert.deepEqual(
      json.experiments.map((e) => e.metrics['b.loss']),
      [0.5, 0.5, 0.25],
      'JSON keeps every metric',
    );

    const text = await ws.tailor(['exp', 'show']);
    assert.equal(text.code, 0, text.stderr);
    const [header, ...lines] = text.stdout.trim().split('\n');
    assert.match(header!, /^run\s+name\s+when\s+b\.lr\s+b\.n\s+b\.holdout\.micro_f1\s+seconds\s+ran$/);
    assert.doesNotMatch(text.stdout, /a\.text|b\.head|c\.unit|b\.loss/);
    assert.match(
      lines[0]!,
      /^\s*#1\s+base\s+\S+ \S+\s+0\.5\s+1\s+0\.1000\s+[\d.]+\s+a [\d.]+, b [\d.]+, c [\d.]+, d [\d.]+$/,
    );
    assert.match(lines[1]!, /more-n .* 7 +0\.7000 .* b [\d.]+, d [\d.]+$/);
    assert.match(text.stdout, /3 param\(s\) equal in every run hidden/);

    const all = await ws.tailor(['exp', 'show', '--all']);
    assert.match(
      all.stdout.split('\n')[0]!,
      /a\.text\s+b\.head\s+b\.lr\s+b\.n\s+c\.unit\s+b\.holdout\.micro_f1\s+b\.loss/,
    );

    const csv = (await ws.tailor(['exp', 'show', '--csv', '--metric', 'loss'])).stdout.trim().split('\n');
    assert.deepEqual(csv[0]!.split(','), [
      'run',
      'name',
      'pipeline',
      'started_at',
      'status',
      'b.lr',
      'b.n',
      'b.loss',
      'seconds',
      'seconds.a',
      'seconds.b',
      'seconds.c',
      'seconds.d',
    ]);
    assert.equal(csv.length, 4);
    assert.match(csv[3]!, /^3,low-lr,pipelines\/chain\.yaml,[^,]+,ok,0\.25,1,0\.25,/);

    const filtered = await show(ws, '--name', 'low-lr');
    assert.deepEqual(
      filtered.experiments.map((e) => e.name),
      ['low-lr'],
    );
  } finally {
    await ws.dispose();
  }
});

test('exp diff: changed params, changed stage keys, metric deltas; unknown names are usage errors', async () => {
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
    assert.match(text.stdout, /base \(#1\) -> tuned \(#2\)/);
    assert.match(text.stdout, /b\.n\s+1\s+4/);
    assert.match(text.stdout, /b\.holdout\.micro_f1\s+0\.1000\s+0\.4000\s+\+0\.3000/);

    const missing = await ws.tailor(['exp', 'diff', 'base', 'nope']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no experiment run "nope"; known: base, tuned/);
    const noName = await ws.tailor(['exp', 'run', 'pipelines/chain.yaml']);
    assert.equal(noName.code, 2);
    assert.match(noName.stderr, /--name NAME is required/);
  } finally {
    await ws.dispose();
  }
});
