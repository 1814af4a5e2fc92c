/**
 * The install step (scripts/native-backend.mjs) never fails an install: turned off, without pip,
 * or pointed at a folder without libtensorflow, it exits 0, prints one line and records why.
 * Run on a scratch copy of the scripts (its root is the folder above scripts/), so the real
 * install's record and build are untouched.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './helpers/rig.js';

const scratches: string[] = [];
after(() => Promise.all(scratches.map((d) => rm(d, { recursive: true, force: true }))));

async function scratch(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tailor-native-step-'));
  scratches.push(root);
  await cp(join(REPO, 'scripts'), join(root, 'scripts'), { recursive: true });
  await mkdir(join(root, 'node_modules', '@tensorflow'), { recursive: true });
  // The package's files as npm leaves them (its download script denied by allowScripts): a copy
  // without the real install's build, which the step clears first.
  const pkg = join(REPO, 'node_modules', '@tensorflow', 'tfjs-node');
  await cp(pkg, join(root, 'node_modules', '@tensorflow', 'tfjs-node'), {
    recursive: true,
    filter: (p) => !/^\/(deps|lib|build)(\/|$)/.test(p.slice(pkg.length)),
  });
  return root;
}

function step(root: string, env: Record<string, string>): { code: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'native-backend.mjs')], {
    encoding: 'utf8',
    env: { HOME: root, TAILOR_NATIVE_CACHE: join(root, 'cache'), ...env },
  });
  return { code: r.status, lines: r.stdout.trim().split('\n') };
}

const record = async (root: string) =>
  JSON.parse(await readFile(join(root, 'node_modules', '.cache', 'tailor', 'native-backend.json'), 'utf8')) as {
    status: string;
    reason: string;
  };

test('TAILOR_NATIVE=0 turns it off in one line', async () => {
  const root = await scratch();
  const r = step(root, { TAILOR_NATIVE: '0', PATH: process.env.PATH ?? '' });
  assert.equal(r.code, 0);
  assert.deepEqual(r.lines, ['tailor: native TensorFlow backend off (TAILOR_NATIVE=0); ML stages use wasm']);
  const rec = await record(root);
  assert.equal(rec.status, 'disabled');
  assert.equal(rec.reason, 'TAILOR_NATIVE=0');
});

test('without pip it leaves wasm in place, says why in one line and records it', async () => {
  const root = await scratch();
  const r = step(root, { PATH: join(root, 'no-such-bin') });
  assert.equal(r.code, 0);
  assert.equal(r.lines.length, 1, r.lines.join('\n'));
  assert.match(
    r.lines[0]!,
    /^tailor: native TensorFlow backend not installed \(.*no Python with pip found.*\); ML stages use wasm/,
  );
  const rec = await record(root);
  assert.equal(rec.status, 'failed');
  assert.match(rec.reason, /@tensorflow\/tfjs-node: no Python with pip found/);
});

test('TAILOR_LIBTENSORFLOW must be a libtensorflow folder', async () => {
  const root = await scratch();
  const r = step(root, {
    PATH: process.env.PATH ?? '',
    TAILOR_LIBTENSORFLOW: join(root, 'scripts'),
    TAILOR_NATIVE: 'cpu',
  });
  assert.equal(r.code, 0);
  assert.equal(r.lines.length, 1);
  const rec = await record(root);
  assert.equal(rec.status, 'failed');
  assert.match(rec.reason, /no libtensorflow_cc\.so\.2 or libtensorflow\.so\.2/);
});
