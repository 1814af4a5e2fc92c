/**
 * The run use case and its seams (issue 11, points 1 and 6), called in-process: runPipeline with
 * another StageExecutor (one that runs stages against a second cache, as a remote worker would,
 * and hands back committed outputs) gives the same keys and outputs as the local one; the restore
 * hook brings outputs in from another cache instead of running; the after-commit hook sees every
 * commit. And the layers point one way: nothing under src/ but src/cli imports src/cli.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadPipeline } from '../src/pipeline/load.js';
import type { Pipeline } from '../src/pipeline/types.js';
import type { OutputRecord } from '../src/cache/output-table.js';
import { LocalExecutor } from '../src/run/local-executor.js';
import { runPipeline, type RunOptions } from '../src/run/run-pipeline.js';
import { Session } from '../src/run/session.js';
import type { StageExecution, StageExecutor, StageIO, StageJob } from '../src/run/stage-executor.js';
import type { RunEvent } from '../src/run/events.js';
import { REPO } from './helpers/rig.js';

const PIPELINE = `stages:
  a:
    cmd: "echo a >> \${params.log} && echo \${params.v} > \${out}/a.txt"
    params: { v: 1, log: LOG }
  b:
    cmd: "echo b >> \${params.log} && cat \${needs.a}/a.txt \${needs.a}/a.txt > \${out}/b.txt"
    needs: [a]
    params: { log: LOG }
`;

async function setup(): Promise<{ dir: string; pipeline: Pipeline; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-seams-'));
  const { writeFile, mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'pipelines'));
  await writeFile(join(dir, 'pipelines', 'p.yaml'), PIPELINE.replaceAll('LOG', join(dir, 'runs.log')));
  const loaded = loadPipeline(join(dir, 'pipelines', 'p.yaml'), { workdir: dir, cacheDir: false });
  assert.ok(loaded.ok);
  return { dir, pipeline: loaded.value, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

function options(extra: Partial<RunOptions> = {}): RunOptions & { events: RunEvent[] } {
  const events: RunEvent[] = [];
  return { signal: new AbortController().signal, emit: (e) => events.push(e), jobs: 1, ...extra, events };
}

/** Copy an object from one cache folder's store into another's. */
async function copyObject(from: Session, to: Session, treeHash: string): Promise<void> {
  await cp(from.store.pathOf(treeHash), to.store.pathOf(treeHash), { recursive: true });
}

/** Runs each job with a LocalExecutor on a cache of its own ("another machine"), then ships the object. */
class ElsewhereExecutor implements StageExecutor {
  constructor(
    private readonly remote: Session,
    private readonly home: Session,
  ) {}

  async run(job: StageJob, io: StageIO): Promise<StageExecution> {
    for (const tree of Object.values(job.inputs))
      if (!this.remote.store.exists(tree)) await copyObject(this.home, this.remote, tree);
    const local = new LocalExecutor({ store: this.remote.store, stateDir: (s) => this.remote.stateDir(s) });
    const done = await local.run(job, io);
    if (!done.ok || done.output.kind !== 'folder') return done;
    const committed = await this.remote.store.commit(done.output.dir);
    await copyObject(this.remote, this.home, committed.treeHash);
    return { ok: true, output: { kind: 'committed', treeHash: committed.treeHash }, worker: 'elsewhere:1' };
  }
}

test('another executor gives the same keys and outputs; its stages report their worker', async () => {
  const a = await setup();
  const b = await setup();
  try {
    const localSession = await Session.open(join(a.dir, 'cache'));
    const local = await runPipeline(localSession, a.pipeline, options());
    assert.ok(local.ok && !local.value.failed);

    const home = await Session.open(join(b.dir, 'cache'));
    const remote = await Session.open(join(b.dir, 'remote-cache'));
    // The same pipeline in another folder (only the log path param differs): the same output bytes.
    const elsewhere = await runPipeline(home, b.pipeline, options({ executor: new ElsewhereExecutor(remote, home) }));
    assert.ok(elsewhere.ok, JSON.stringify(elsewhere));
    assert.deepEqual(
      elsewhere.value.outcomes.map((o) => [o.name, o.action, o.worker]),
      [
        ['a', 'ran', 'elsewhere:1'],
        ['b', 'ran', 'elsewhere:1'],
      ],
    );
    const treesOf = (r: typeof local) => (r.ok ? r.value.outcomes.map((o) => o.treeHash) : []);
    assert.deepEqual(treesOf(elsewhere), treesOf(local), 'the same bytes, committed under the same tree hashes');
    // Run again with the local executor: everything is cached, keys do not depend on the executor.
    const again = await runPipeline(home, b.pipeline, options());
    assert.ok(again.ok);
    assert.deepEqual(
      again.value.outcomes.map((o) => o.action),
      ['cached', 'cached'],
    );
    for (const s of [localSession, home, remote]) s.close();
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});

test('the restore hook brings outputs in from another cache before running; afterCommit sees each commit', async () => {
  const a = await setup();
  try {
    const first = await Session.open(join(a.dir, 'cache-1'));
    const committed: OutputRecord[] = [];
    const r1 = await runPipeline(
      first,
      a.pipeline,
      options({ hooks: { afterCommit: async (o) => void committed.push(o) } }),
    );
    assert.ok(r1.ok && !r1.value.failed);
    assert.deepEqual(
      committed.map((o) => o.stage),
      ['a', 'b'],
    );
    await rm(join(a.dir, 'runs.log'));

    const second = await Session.open(join(a.dir, 'cache-2'));
    const asked: string[] = [];
    const r2 = await runPipeline(
      second,
      a.pipeline,
      options({
        hooks: {
          restore: async ({ key, stage }) => {
            asked.push(stage);
            const found = first.index.outputs.getOutput(key);
            if (found) await copyObject(first, second, found.treeHash);
            return found;
          },
        },
      }),
    );
    assert.ok(r2.ok);
    assert.deepEqual(
      r2.value.outcomes.map((o) => [o.name, o.action, o.from]),
      [
        ['a', 'cached', 'remote'],
        ['b', 'cached', 'remote'],
      ],
    );
    assert.deepEqual(asked, ['a', 'b']);
    assert.equal(await readFile(join(a.dir, 'runs.log'), 'utf8').catch(() => ''), '', 'no stage ran');
    first.close();
    second.close();
  } finally {
    await a.cleanup();
  }
});

test('runPipeline returns expected failures as values: an unknown stage, a held lock', async () => {
  const a = await setup();
  try {
    const session = await Session.open(join(a.dir, 'cache'));
    const unknown = await runPipeline(session, a.pipeline, options({ stages: ['c'] }));
    assert.ok(!unknown.ok && unknown.error.kind === 'usage');
    assert.match(unknown.ok ? '' : unknown.error.kind === 'usage' ? unknown.error.message : '', /no stage "c"/);
    const { acquireRunLock } = await import('../src/cache/run-lock.js');
    const held = await acquireRunLock(session.cacheDir);
    assert.ok(held.ok);
    const locked = await runPipeline(session, a.pipeline, options());
    assert.ok(!locked.ok && locked.error.kind === 'locked');
    held.value.release();
    session.close();
  } finally {
    await a.cleanup();
  }
});

test('layers point one way: nothing below src/cli imports it', async () => {
  const offenders: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (path !== join(REPO, 'src', 'cli')) await walk(path);
      } else if (e.name.endsWith('.ts')) {
        const text = await readFile(path, 'utf8');
        if (/from '(\.\.\/)+cli\//.test(text)) offenders.push(relative(REPO, path));
      }
    }
  };
  await walk(join(REPO, 'src'));
  assert.deepEqual(offenders, []);
});
