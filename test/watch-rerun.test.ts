/**
 * `tailor watch` end to end: a real watcher process (real chokidar) over a temp workspace, real
 * file edits, stages counting their runs in runs.log. Every test stops its watcher and waits for
 * it to exit, so no process outlives the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Workspace } from './helpers/rig.js';

const CHAIN = (n: number | string) => `
stages:
  a:
    cmd: "echo a >> runs.log && echo hello > \${out}/a.txt"
  b:
    cmd: "echo b >> runs.log && cat \${needs.a}/a.txt > \${out}/b.txt && echo \${params.n} >> \${out}/b.txt"
    needs: [a]
    params: { n: ${n} }
  c:
    cmd: "echo c >> runs.log && wc -c < \${needs.a}/a.txt > \${out}/c.txt"
    needs: [a]
  d:
    cmd: "echo d >> runs.log && cat \${needs.b}/b.txt \${needs.c}/c.txt > \${out}/d.txt"
    needs: [b, c]
    export: { d.txt: outputs/d.txt }
`;

/** A running `tailor watch` and everything it printed so far. */
class Watch {
  out = '';
  private exit: Promise<number>;

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.exit = new Promise((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  }

  static start(ws: Workspace, args: string[]): Watch {
    return new Watch(ws.spawn(['watch', ...args, '--debounce', '150']));
  }

  count(re: RegExp): number {
    return this.out.match(new RegExp(re.source, 'g'))?.length ?? 0;
  }

  /** Wait until `re` has matched at least `n` times. */
  async until(re: RegExp, n = 1, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.count(re) < n) {
      if (this.child.exitCode !== null)
        throw new Error(`watch exited (${this.child.exitCode}) while waiting for ${re}:\n${this.out}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${n}x ${re}; output:\n${this.out}`);
      await sleep(100);
    }
  }

  /** Ctrl-C, then wait for the exit (SIGKILL if it hangs, failing the test). */
  async stop(): Promise<number> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }
}

const WAITING = /watch: waiting for changes/;

/** Wait until stage `name` has really started `n` times (its shell wrote to runs.log). */
async function started(ws: Workspace, name: string, n: number, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (((await ws.runCounts())[name] ?? 0) < n) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${name} to start ${n} time(s)`);
    await sleep(100);
  }
}

test('watch: a param edit reruns exactly the stale stages; a broken edit is reported with its position, then a fix reruns', async () => {
  const ws = await Workspace.create('tailor-watch-');
  const w = await ws.write('pipelines/chain.yaml', CHAIN(1)).then(() => Watch.start(ws, ['pipelines/chain.yaml']));
  try {
    await w.until(WAITING);
    assert.deepEqual(await ws.runCounts(), { a: 1, b: 1, c: 1, d: 1 }, 'the first run brings everything up to date');
    await ws.clearRuns();

    await ws.write('pipelines/chain.yaml', CHAIN(2));
    await w.until(WAITING, 2);
    assert.deepEqual(await ws.runCounts(), { b: 1, d: 1 });
    assert.equal(await ws.read('outputs/d.txt'), 'hello\n2\n6\n');
    await ws.clearRuns();

    await ws.write('pipelines/chain.yaml', CHAIN('{ broken'));
    await w.until(/does not load/);
    assert.match(w.out, /pipelines\/chain\.yaml:\d+:\d+ error: /, 'file:line:col of the YAML error');
    assert.deepEqual(await ws.runCounts(), {}, 'nothing runs on a broken pipeline');

    await ws.write('pipelines/chain.yaml', CHAIN(3));
    await w.until(WAITING, 4);
    assert.deepEqual(await ws.runCounts(), { b: 1, d: 1 });
    assert.equal(await ws.read('outputs/d.txt'), 'hello\n3\n6\n');

    // Its own export into outputs/ must not count as a change: it stays idle.
    await sleep(1000);
    assert.equal(w.count(WAITING), 4, w.out);
    assert.equal(await w.stop(), 0);
  } finally {
    await w.stop();
    await ws.dispose();
  }
});

test('watch: an edit to a helper a module stage imports reruns that stage; a deps file change reruns its reader', async () => {
  const ws = await Workspace.create('tailor-watch-');
  await ws.write('stages/helper.ts', `export const suffix = '!';\n`);
  await ws.write(
    'stages/greet.ts',
    `import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suffix } from './helper.js';

export default {
  params: { type: 'object', properties: { name: { type: 'string', default: 'world' } }, additionalProperties: false },
  async run(ctx: { params: { name: string }; out: string; workdir: string }) {
    appendFileSync(join(ctx.workdir, 'runs.log'), 'greet\\n');
    writeFileSync(join(ctx.out, 'greeting.txt'), 'hello ' + ctx.params.name + suffix);
  },
};
`,
  );
  await ws.write('data/words.txt', 'one\n');
  await ws.write(
    'pipelines/m.yaml',
    `stages:
  greet:
    uses: stages/greet.ts
    params: { name: tailor }
  count:
    cmd: "echo count >> runs.log && wc -l < data/words.txt > \${out}/n"
    deps: [data/words.txt]
`,
  );
  const w = Watch.start(ws, ['pipelines/m.yaml']);
  try {
    await w.until(WAITING);
    assert.deepEqual(await ws.runCounts(), { greet: 1, count: 1 });
    await ws.clearRuns();

    await ws.write('stages/helper.ts', `export const suffix = '!!';\n`);
    await w.until(WAITING, 2);
    assert.deepEqual(await ws.runCounts(), { greet: 1 });
    assert.match(w.out, /greet\s+running\s+\(code stages\/helper\.ts changed\)/);
    await ws.clearRuns();

    await ws.write('data/words.txt', 'one\ntwo\n');
    await w.until(WAITING, 3);
    assert.deepEqual(await ws.runCounts(), { count: 1 });
    assert.equal(await w.stop(), 0);
  } finally {
    await w.stop();
    await ws.dispose();
  }
});

test('watch: a running stage whose params change is stopped and restarted; Ctrl-C mid-stage leaves the cache consistent', async () => {
  const ws = await Workspace.create('tailor-watch-');
  // `held` waits until the test creates the file named by its param, so it is surely running.
  const pipeline = (flag: string) => `
stages:
  held:
    cmd: "echo held >> runs.log && while [ ! -f \${params.flag} ]; do sleep 0.1; done && echo \${params.flag} > \${out}/flag"
    params: { flag: ${flag} }
  after:
    cmd: "echo after >> runs.log && cp \${needs.held}/flag \${out}/flag"
    needs: [held]
`;
  await ws.write('pipelines/h.yaml', pipeline('go1'));
  const w = Watch.start(ws, ['pipelines/h.yaml']);
  try {
    await started(ws, 'held', 1);
    await ws.write('pipelines/h.yaml', pipeline('go2'));
    await w.until(/stopping the run to restart held, after/);
    await started(ws, 'held', 2);
    await ws.write('go2', '');
    await w.until(WAITING);
    assert.deepEqual(await ws.runCounts(), { held: 2, after: 1 }, 'held started twice, after once');
    assert.equal(w.count(/✓ held/), 1, 'the first, stopped attempt never finished');

    // Ctrl-C while a stage runs: the stage is stopped, nothing half-written stays in the cache.
    await ws.clearRuns();
    await ws.write('pipelines/h.yaml', pipeline('go3'));
    await started(ws, 'held', 1);
    assert.equal(await w.stop(), 130, w.out);
    assert.deepEqual(await readdir(ws.path('cache', 'tmp')), [], 'no unfinished output folder left');
    assert.equal(ws.exists('cache/lock.json'), false, 'the run lock was released');
    const status = JSON.parse(
      (await ws.tailor(['status', 'pipelines/h.yaml', '--set', 'held.flag=go2', '--json'])).stdout,
    ) as { stages: Array<{ state: string }> };
    assert.deepEqual(
      status.stages.map((s) => s.state),
      ['fresh', 'fresh'],
      'the finished run is intact',
    );
  } finally {
    await w.stop();
    await ws.dispose();
  }
});
