/** Incremental behaviour of `tailor run` on toy pipelines of cmd stages and TS module stages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Workspace, withAction } from './helpers/rig.js';

// a -> b -> d, a -> c -> d ; each cmd stage logs its name to runs.log when it really executes.
const CHAIN = `
vars: { greeting: hello }
stages:
  a:
    cmd: "echo a >> runs.log && echo \${params.text} > \${out}/a.txt"
    params: { text: "\${vars.greeting}" }
  b:
    cmd: "echo b >> runs.log && cat \${needs.a}/a.txt > \${out}/b.txt && echo \${params.n} >> \${out}/b.txt"
    needs: [a]
    params: { n: 1 }
  c:
    cmd: "echo c >> runs.log && wc -c < \${needs.a}/a.txt > \${out}/c.txt"
    needs: [a]
  d:
    cmd: "echo d >> runs.log && cat \${needs.b}/b.txt \${needs.c}/c.txt > \${out}/d.txt"
    needs: [b, c]
    export: { d.txt: outputs/d.txt }
`;

async function chainWorkspace(): Promise<Workspace> {
  const ws = await Workspace.create();
  await ws.write('pipelines/chain.yaml', CHAIN);
  await ws.write('README.md', '# a workspace\n');
  return ws;
}

test('first run runs everything; a second run runs nothing', async () => {
  const ws = await chainWorkspace();
  try {
    const first = await ws.run(['pipelines/chain.yaml']);
    assert.equal(first.code, 0, first.result.stderr);
    assert.deepEqual(withAction(first.actions, 'ran'), ['a', 'b', 'c', 'd']);
    assert.equal(await ws.read('outputs/d.txt'), 'hello\n1\n6\n');
    assert.ok(ws.exists('pipelines/chain.lock.json'), 'lock file written');

    await ws.clearRuns();
    const second = await ws.run(['pipelines/chain.yaml']);
    assert.equal(second.code, 0);
    assert.deepEqual(withAction(second.actions, 'cached'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(await ws.runCounts(), {}, 'no stage process ran');
    const status = await ws.tailor(['status', 'pipelines/chain.yaml', '--json']);
    const states = (JSON.parse(status.stdout) as { stages: Array<{ state: string }> }).stages.map((s) => s.state);
    assert.deepEqual(states, ['fresh', 'fresh', 'fresh', 'fresh']);
  } finally {
    await ws.dispose();
  }
});

test('a param change reruns exactly that stage and its real dependents; reverting restores from cache', async () => {
  const ws = await chainWorkspace();
  try {
    assert.equal((await ws.run(['pipelines/chain.yaml'])).code, 0);
    await ws.clearRuns();

    const status = await ws.tailor(['status', 'pipelines/chain.yaml', '--set', 'b.n=2', '--json']);
    const byName = Object.fromEntries(
      (JSON.parse(status.stdout) as { stages: Array<{ name: string; state: string; reasons: string[] }> }).stages.map(
        (s) => [s.name, s],
      ),
    );
    assert.equal(byName.a!.state, 'fresh');
    assert.equal(byName.c!.state, 'fresh');
    assert.equal(byName.b!.state, 'stale');
    assert.ok(byName.b!.reasons.includes('param n: 1 -> 2'), JSON.stringify(byName.b!.reasons));
    assert.ok(
      byName.d!.reasons.some((r) => r.includes('upstream b')),
      JSON.stringify(byName.d!.reasons),
    );

    const changed = await ws.run(['pipelines/chain.yaml', '--set', 'b.n=2']);
    assert.deepEqual(withAction(changed.actions, 'ran'), ['b', 'd']);
    assert.deepEqual(await ws.runCounts(), { b: 1, d: 1 });

    await ws.clearRuns();
    const reverted = await ws.run(['pipelines/chain.yaml']);
    assert.deepEqual(withAction(reverted.actions, 'ran'), []);
    assert.deepEqual(withAction(reverted.actions, 'cached'), ['a', 'b', 'c', 'd']);
    assert.deepEqual(await ws.runCounts(), {}, 'switching a param back runs nothing');
    assert.equal(await ws.read('outputs/d.txt'), 'hello\n1\n6\n', 'export restored from cache');
  } finally {
    await ws.dispose();
  }
});

test('an upstream that reruns with byte-identical data (only its metrics.json timings differ) does not make its dependents stale', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/p.yaml',
      `stages:
  norm:
    cmd: "echo norm >> runs.log && echo \${params.word} | tr A-Z a-z > \${out}/w.txt && echo '{\\"seconds\\": '$(date +%s%N)'}' > \${out}/metrics.json"
    params: { word: Hello }
  use:
    cmd: "echo use >> runs.log && cat \${needs.norm}/w.txt > \${out}/u.txt"
    needs: [norm]
`,
    );
    assert.equal((await ws.run(['pipelines/p.yaml'])).code, 0);
    await ws.clearRuns();
    const r = await ws.run(['pipelines/p.yaml', '--set', 'norm.word=HELLO']);
    assert.equal(r.actions.norm, 'ran');
    assert.equal(r.actions.use, 'cached');
    assert.deepEqual(await ws.runCounts(), { norm: 1 });
    const metrics = JSON.parse(
      (await ws.tailor(['show', 'pipelines/p.yaml', 'norm', '--json', '--set', 'norm.word=HELLO'])).stdout,
    ) as { metrics: { seconds?: number } };
    assert.equal(typeof metrics.metrics.seconds, 'number', 'the upstream wrote a timing, so its tree hash changed');
  } finally {
    await ws.dispose();
  }
});

test('module stages: a code change in an imported helper reruns; comment-only and README changes do not', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'stages/helper.ts',
      `// helper used by greet
export function shout(s: string): string {
  return s.toUpperCase() + '!';
}
`,
    );
    await ws.write(
      'stages/greet.ts',
      `import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shout } from './helper.js';

export default {
  params: { type: 'object', properties: { name: { type: 'string', default: 'world' } }, additionalProperties: false },
  async run(ctx: { params: { name: string }; out: string; workdir: string; log(m: string): void; metrics(v: object): void }) {
    appendFileSync(join(ctx.workdir, 'runs.log'), 'greet\\n');
    writeFileSync(join(ctx.out, 'greeting.txt'), shout('hello ' + ctx.params.name));
    ctx.log('greeted ' + ctx.params.name);
    ctx.metrics({ length: ctx.params.name.length });
  },
};
`,
    );
    await ws.write('pipelines/m.yaml', `stages:\n  greet:\n    uses: stages/greet.ts\n    params: { name: tailor }\n`);
    await ws.write('README.md', 'first\n');
    const first = await ws.run(['pipelines/m.yaml']);
    assert.equal(first.code, 0, first.result.stderr);
    assert.equal(first.actions.greet, 'ran');
    const show = JSON.parse((await ws.tailor(['show', 'pipelines/m.yaml', 'greet', '--json'])).stdout) as {
      out: string;
      metrics: { length: number };
    };
    assert.equal(show.metrics.length, 6);

    await ws.write('README.md', 'second, edited\n');
    await ws.write(
      'stages/helper.ts',
      (await ws.read('stages/helper.ts')).replace(
        '// helper used by greet',
        '// a reworded comment\n/* and a block comment */',
      ),
    );
    await ws.clearRuns();
    const noop = await ws.run(['pipelines/m.yaml']);
    assert.equal(noop.actions.greet, 'cached', 'comments and README are not code');
    assert.deepEqual(await ws.runCounts(), {});

    await ws.write('stages/helper.ts', (await ws.read('stages/helper.ts')).replace("'!'", "'!!'"));
    const status = await ws.tailor(['status', 'pipelines/m.yaml', '--json']);
    const reasons = (JSON.parse(status.stdout) as { stages: Array<{ reasons: string[] }> }).stages[0]!.reasons;
    assert.ok(reasons.includes('code stages/helper.ts changed'), JSON.stringify(reasons));
    const rerun = await ws.run(['pipelines/m.yaml']);
    assert.equal(rerun.actions.greet, 'ran');
    const out = JSON.parse((await ws.tailor(['show', 'pipelines/m.yaml', 'greet', '--json'])).stdout) as {
      out: string;
    };
    assert.equal(
      await (await import('node:fs/promises')).readFile(`${out.out}/greeting.txt`, 'utf8'),
      'HELLO TAILOR!!',
    );
  } finally {
    await ws.dispose();
  }
});

test('deps: a changed workspace file reruns the stage that reads it, named in status', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('data/in.csv', 'x\n1\n');
    await ws.write(
      'pipelines/d.yaml',
      `stages:\n  count:\n    cmd: "echo count >> runs.log && wc -l < data/in.csv > \${out}/n"\n    deps: [data/in.csv]\n`,
    );
    assert.equal((await ws.run(['pipelines/d.yaml'])).actions.count, 'ran');
    assert.equal((await ws.run(['pipelines/d.yaml'])).actions.count, 'cached');
    await ws.write('data/in.csv', 'x\n1\n2\n');
    const status = JSON.parse((await ws.tailor(['status', 'pipelines/d.yaml', '--json'])).stdout) as {
      stages: Array<{ reasons: string[] }>;
    };
    assert.deepEqual(status.stages[0]!.reasons, ['file data/in.csv changed']);
    const dry = await ws.tailor(['run', 'pipelines/d.yaml', '--dry-run']);
    assert.match(dry.stdout, /would run count/);
    assert.equal((await ws.run(['pipelines/d.yaml'])).actions.count, 'ran');
  } finally {
    await ws.dispose();
  }
});

test('a failing stage fails the run, skips its dependents, registers nothing', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/f.yaml',
      `stages:\n  ok:\n    cmd: "echo fine > \${out}/x"\n  bad:\n    cmd: "echo partial > \${out}/x; echo boom >&2; exit 3"\n    needs: [ok]\n  after:\n    cmd: "true"\n    needs: [bad]\n`,
    );
    const r = await ws.run(['pipelines/f.yaml']);
    assert.equal(r.code, 1);
    assert.deepEqual(r.actions, { ok: 'ran', bad: 'failed', after: 'skipped' });
    assert.match(r.result.stderr, /bad failed: command exited with code 3/);
    const show = await ws.tailor(['show', 'pipelines/f.yaml', 'bad', '--json']);
    assert.notEqual(show.code, 0, 'no output registered for the failed stage');
  } finally {
    await ws.dispose();
  }
});
