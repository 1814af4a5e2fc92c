/**
 * Sweeps, `exp apply` and `exp remove` through the real CLI on a toy pipeline of cmd stages: a
 * 2×2 grid runs four experiments that share their upstream stage (counted runs), commas inside
 * one value stay one value, experiments leave export targets alone, apply rewrites only the
 * changed values and keeps comments, remove forgets the runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace } from './helpers/rig.js';

// a -> b; b's metric depends on n and lr. Comments and layout are part of what apply must keep.
const PIPE = `# the toy sweep pipeline
vars: { greeting: hello }   # said by a
stages:
  a:
    cmd: "echo a >> runs.log && echo \${params.text} > \${out}/a.txt"
    params: { text: "\${vars.greeting}" }

  b:
    # b scores n and lr
    cmd: "echo b >> runs.log && cat \${needs.a}/a.txt > \${out}/b.txt && printf '{\\"holdout\\":{\\"micro_f1\\":0.%s%s}}' \${params.n} \${params.lr} > \${out}/metrics.json"
    needs: [a]
    params:
      n: 1        # how many
      lr: 5       # the rate
      tag: plain
    export: { "b.txt": outputs/b.txt }
`;

async function workspace(): Promise<Workspace> {
  const ws = await Workspace.create('tailor-sweep-');
  await ws.write('pipelines/toy.yaml', PIPE);
  return ws;
}

interface SweepJson {
  experiments: Array<{ name: string; sets: string[]; code: number; stages: Array<{ name: string; action: string }> }>;
}

test('a 2×2 sweep runs four named experiments in order, sharing the upstream stage, exports untouched', async () => {
  const ws = await workspace();
  try {
    const r = await ws.tailor([
      'exp',
      'run',
      'pipelines/toy.yaml',
      '--name',
      'grid',
      '--set',
      'b.n=2,3',
      '--set',
      'b.lr=4,6',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as SweepJson;
    assert.deepEqual(
      out.experiments.map((e) => e.name),
      ['grid-n=2-lr=4', 'grid-n=2-lr=6', 'grid-n=3-lr=4', 'grid-n=3-lr=6'],
      'first --set varies slowest',
    );
    assert.deepEqual(out.experiments[1]!.sets, ['b.n=2', 'b.lr=6']);
    assert.deepEqual(await ws.runCounts(), { a: 1, b: 4 }, 'a ran once and was shared by all four');
    for (let i = 1; i <= 4; i++)
      assert.match(r.stderr, new RegExp(`experiment ${i}/4 "grid-`), 'progress per experiment');
    assert.match(r.stderr, /sweep: 4 of 4 experiment\(s\) done/);
    assert.equal(ws.exists('outputs/b.txt'), false, 'experiments do not write export targets');

    const show = JSON.parse((await ws.tailor(['exp', 'show', '--json'])).stdout) as {
      experiments: Array<{ name: string; params: Record<string, unknown>; metrics: Record<string, number> }>;
    };
    assert.deepEqual(
      show.experiments.map((e) => [e.params['b.n'], e.params['b.lr'], e.metrics['b.holdout.micro_f1']]),
      [
        [2, 4, 0.24],
        [2, 6, 0.26],
        [3, 4, 0.34],
        [3, 6, 0.36],
      ],
    );

    // Each recorded run reruns alone from its own command line: nothing runs again.
    await ws.clearRuns();
    const again = await ws.tailor(['exp', 'run', 'pipelines/toy.yaml', '--set', 'b.n=3', '--set', 'b.lr=6', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await ws.runCounts(), {}, 'the same point comes from the cache');
    assert.match(again.stderr, /experiment "n=3-lr=6" recorded/, 'without --name the values name it');

    const single = await ws.tailor(['exp', 'run', 'pipelines/toy.yaml', '--name', 'one', '--set', 'b.n=7', '--export']);
    assert.equal(single.code, 0, single.stderr);
    assert.equal(ws.exists('outputs/b.txt'), true, '--export writes them for one experiment');
    const sweepExport = await ws.tailor(['exp', 'run', 'pipelines/toy.yaml', '--set', 'b.n=1,2', '--export']);
    assert.equal(sweepExport.code, 2);
    assert.match(sweepExport.stderr, /a sweep would leave only the last one/);
  } finally {
    await ws.dispose();
  }
});

test('commas inside quotes, brackets or after a backslash stay in one value; a bad value fails before anything runs', async () => {
  const ws = await workspace();
  try {
    const r = await ws.tailor([
      'exp',
      'run',
      'pipelines/toy.yaml',
      '--set',
      'b.tag="x,y",z\\,w',
      '--set',
      'b.n=[1,2]',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as SweepJson;
    assert.equal(out.experiments.length, 2, 'two tags, one list');
    const show = JSON.parse((await ws.tailor(['exp', 'show', '--json', '--all'])).stdout) as {
      experiments: Array<{ params: Record<string, unknown> }>;
    };
    assert.deepEqual(
      show.experiments.map((e) => [e.params['b.tag'], e.params['b.n']]),
      [
        ['x,y', [1, 2]],
        ['z,w', [1, 2]],
      ],
    );

    await ws.clearRuns();
    const bad = await ws.tailor(['exp', 'run', 'pipelines/toy.yaml', '--set', 'b.n=2,[3']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /malformed --set value "\[3"/);
    assert.deepEqual(await ws.runCounts(), {}, 'nothing ran');

    const queued = await ws.tailor(['exp', 'queue', 'pipelines/toy.yaml', '--name', 'q', '--set', 'b.n=1,2', '--json']);
    assert.equal(queued.code, 0, queued.stderr);
    assert.deepEqual(
      (JSON.parse(queued.stdout) as { queued: Array<{ name: string }> }).queued.map((e) => e.name),
      ['q-n=1', 'q-n=2'],
      'exp queue queues one entry per point',
    );
  } finally {
    await ws.dispose();
  }
});

test('exp apply writes only the changed values and keeps comments; tailor run then reuses the outputs; exp remove', async () => {
  const ws = await workspace();
  try {
    assert.equal((await ws.run(['pipelines/toy.yaml'])).code, 0);
    const sweep = await ws.tailor(['exp', 'run', 'pipelines/toy.yaml', '--name', 's', '--set', 'b.lr=7,8', '--quiet']);
    assert.equal(sweep.code, 0, sweep.stderr);
    const added = await ws.tailor([
      'exp',
      'run',
      'pipelines/toy.yaml',
      '--name',
      'new-key',
      '--set',
      'vars.greeting=hi',
    ]);
    assert.equal(added.code, 0, added.stderr);

    const dry = await ws.tailor(['exp', 'apply', 's-lr=8', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stdout, 'stages.b.params.lr: 5 → 8\n');
    assert.equal(await ws.read('pipelines/toy.yaml'), PIPE, '--dry-run writes nothing');

    const applied = await ws.tailor(['exp', 'apply', 's-lr=8']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(
      await ws.read('pipelines/toy.yaml'),
      PIPE.replace('lr: 5       # the rate', 'lr: 8       # the rate'),
      'one value changed, byte for byte everything else kept',
    );
    await ws.clearRuns();
    const rerun = await ws.run(['pipelines/toy.yaml']);
    assert.equal(rerun.code, 0);
    assert.deepEqual(await ws.runCounts(), {}, 'the plain run is now that experiment: all from the cache');

    const vars = await ws.tailor(['exp', 'apply', 'new-key']);
    assert.equal(vars.code, 0, vars.stderr);
    const text = await ws.read('pipelines/toy.yaml');
    assert.ok(text.startsWith('# the toy sweep pipeline\nvars: { greeting: hi }   # said by a\n'), text);
    assert.ok(
      text.includes('lr: 5       # the rate'),
      'the rest of what that experiment ran with is written back too (lr was 8 from the earlier apply)',
    );

    const removed = await ws.tailor(['exp', 'remove', 's-lr=7', 'nope']);
    assert.equal(removed.code, 1);
    assert.match(removed.stderr, /removed experiment "s-lr=7" \(1 run\(s\)\)/);
    assert.match(removed.stderr, /no experiment "nope"/);
    const names = (
      JSON.parse((await ws.tailor(['exp', 'show', '--json'])).stdout) as { experiments: Array<{ name: string }> }
    ).experiments.map((e) => e.name);
    assert.deepEqual(names, ['s-lr=8', 'new-key']);
  } finally {
    await ws.dispose();
  }
});

test('exp run --set STAGE.shards=N, and exp apply writes it as the stage key shards', async () => {
  const ws = await workspace();
  try {
    const run = await ws.tailor(['exp', 'run', 'pipelines/toy.yaml', '--name', 'sh', '--set', 'a.shards=2', '--quiet']);
    assert.equal(run.code, 0, run.stderr);
    const dry = await ws.tailor(['exp', 'apply', 'sh', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^stages\.a\.shards: .*2\n$/);
    assert.equal((await ws.tailor(['exp', 'apply', 'sh'])).code, 0);
    const text = await ws.read('pipelines/toy.yaml');
    assert.match(text, /\n {2}a:\n(.*\n)*? {4}shards: 2\n/, text);
    assert.doesNotMatch(text, /params: \{[^}]*shards/, 'not a param');
    await ws.clearRuns();
    const rerun = await ws.run(['pipelines/toy.yaml']);
    assert.equal(rerun.code, 0, rerun.result.stderr);
    assert.equal(rerun.actions['a#2'], 'cached', 'the applied file is that experiment');
  } finally {
    await ws.dispose();
  }
});
