/**
 * An interrupted fetch resumes: a real child process running the stage is SIGKILLed while
 * requests hang; the rerun fetches exactly the images whose bodies never arrived, and a third run
 * fetches nothing.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readJsonlAll } from '../src/formats/jsonl.js';
import type { ManifestEntry } from '../src/formats/manifest.js';
import { runStage } from './helpers/stage-harness.js';
import { startFaultServer, type FaultServer } from './fixtures/data/fault-server.js';
import { distinctJpegs, writeImFile } from './fixtures/data/images.js';

const IMAGES = 48;
const DELIVER_FIRST = 20;
let server: FaultServer;
let dir: string;

before(async () => {
  server = await startFaultServer({ images: await distinctJpegs(IMAGES), stallAfter: DELIVER_FIRST });
  dir = await mkdtemp(join(tmpdir(), 'tailor-fetch-kill-'));
  await writeImFile(join(dir, 'train.json'), {
    images: Array.from({ length: IMAGES }, (_, i) => ({ imageId: String(i + 1), url: `${server.url}/img/${i}.jpg` })),
    annotations: Array.from({ length: IMAGES }, (_, i) => ({ imageId: String(i + 1), labelId: [String(i % 4)] })),
  });
});

after(async () => {
  await server.close();
});

/** Rows in fetch's state index (read while the child writes: WAL allows it). */
function indexRows(state: string): number {
  try {
    const db = new Database(join(state, 'index.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM sources').get() as { n: number }).n;
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created yet
  }
}

it('resumes after SIGKILL without fetching any delivered image twice', async () => {
  const state = join(dir, 'state');
  const params = JSON.stringify({ train: join(dir, 'train.json'), concurrency: 4, timeout_ms: 60000 });
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/fixtures/data/run-stage.ts', 'stages/fetch.ts', params, join(dir, 'out1'), state],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  // Wait until every delivered image is recorded; the next requests hang on the server.
  const deadline = Date.now() + 60_000;
  while (indexRows(state) < DELIVER_FIRST) {
    assert.ok(Date.now() < deadline, `child made no progress: ${output}`);
    assert.equal(child.exitCode, null, `child exited early: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(server.delivered.size, DELIVER_FIRST);
  assert.ok(server.total() > DELIVER_FIRST, 'requests beyond the first ones are hanging');
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  const deliveredBefore = new Set(server.delivered);

  server.reset();
  server.release();
  const run = await runStage('stages/fetch.ts', JSON.parse(params) as Record<string, unknown>, { state });
  const requested = [...server.requests.keys()];
  assert.equal(requested.length, IMAGES - DELIVER_FIRST, 'only the images not delivered before are requested');
  for (const p of requested) {
    assert.ok(!deliveredBefore.has(p), `${p} was delivered before the kill and fetched again`);
    assert.equal(server.requests.get(p), 1);
  }
  const rows = await readJsonlAll<ManifestEntry>(join(run.out, 'manifest.jsonl'));
  assert.equal(rows.filter((r) => r.file).length, IMAGES, 'all images present after the resume');

  server.reset();
  const third = await runStage('stages/fetch.ts', JSON.parse(params) as Record<string, unknown>, { state });
  assert.equal(server.total(), 0, 'a rerun fetches nothing');
  assert.equal((third.metrics as { reused: number }).reused, IMAGES);
});
