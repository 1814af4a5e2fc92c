/**
 * Every failure is a message, never a stack trace (issue 10, point 5), with real processes and
 * files: broken exports, a stage that removes its own output folder, a device as a dep,
 * read-only and clobbered objects, a half-truncated index, a stage that fails with StageError,
 * and run records left `running` by a killed tailor. Exit 1 for a failed stage, 2 for a cache
 * or pipeline problem, never 70.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { REPO, Workspace, collect } from './helpers/rig.js';
import { assertNoStack, noImmutableFiles, setImmutable } from './helpers/hostile.js';

async function outOf(ws: Workspace, file: string, stage: string): Promise<string> {
  const r = await ws.tailor(['show', file, stage, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { out: string }).out;
}

test('broken exports fail their stage with one line, the next run too, and leave no temp file', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/e.yaml',
      `stages:
  missing:
    cmd: "echo x > \${out}/a"
    export: { nope.txt: outputs/nope.txt }
  folder:
    cmd: "mkdir \${out}/d && echo x > \${out}/d/f"
    export: { d: outputs/d.txt }
  dangling:
    cmd: "ln -s /nonexistent/file \${out}/l"
    export: { l: outputs/l.txt }
  target-folder:
    cmd: "echo y > \${out}/a"
    export: { a: outputs/tdir }
`,
    );
    await ws.write('outputs/tdir/keep', 'a folder where a file should go\n');
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await ws.run(['pipelines/e.yaml']);
      assert.equal(r.code, 1, r.result.stderr);
      assert.deepEqual(Object.values(r.actions), ['failed', 'failed', 'failed', 'failed']);
      assertNoStack(r.result.stderr);
      assert.match(r.result.stderr, /missing failed: export nope\.txt: the stage wrote no nope\.txt/);
      assert.match(r.result.stderr, /folder failed: export d: is a folder/);
      // A link leading out of the output (here to nothing) is refused at commit (output-links.ts).
      assert.match(
        r.result.stderr,
        /dangling failed: output link "l" points to "\/nonexistent\/file", outside the stage's output folder/,
      );
      assert.match(r.result.stderr, /target-folder failed: export a -> outputs\/tdir: outputs\/tdir is a folder/);
      assert.deepEqual((await readdir(ws.path('outputs'))).sort(), ['tdir'], 'no .tailor-export.tmp left');
    }
  } finally {
    await ws.dispose();
  }
});

test('an export target that cannot be replaced (immutable) fails the stage with a message and no temp file', async (t) => {
  const why = noImmutableFiles();
  if (why) return t.skip(why);
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/i.yaml',
      `stages:\n  a:\n    cmd: "echo \${params.v} > \${out}/a"\n    params: { v: 1 }\n    export: { a: outputs/a.txt }\n`,
    );
    assert.equal((await ws.run(['pipelines/i.yaml'])).code, 0);
    setImmutable(ws.path('outputs/a.txt'), true);
    try {
      const r = await ws.run(['pipelines/i.yaml', '--set', 'a.v=2']);
      assert.equal(r.code, 1);
      assertNoStack(r.result.stderr);
      assert.match(
        r.result.stderr,
        /a failed: export a -> outputs\/a\.txt: cannot write outputs\/a\.txt: permission denied/,
      );
      assert.deepEqual(await readdir(ws.path('outputs')), ['a.txt']);
    } finally {
      setImmutable(ws.path('outputs/a.txt'), false);
    }
    const again = await ws.run(['pipelines/i.yaml', '--set', 'a.v=2']);
    assert.equal(again.code, 0, again.result.stderr);
    assert.equal(await ws.read('outputs/a.txt'), '2\n');
  } finally {
    await ws.dispose();
  }
});

test('a stage that removes or replaces its own ${out} fails with one line; a device in deps is a pipeline error at its position', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/o.yaml',
      `stages:
  removes:
    cmd: "rm -rf \${out}"
  replaces:
    cmd: "rm -rf \${out} && echo x > \${out}"
`,
    );
    await ws.write('pipelines/d.yaml', `stages:\n  device:\n    cmd: "echo z > \${out}/a"\n    deps: [/dev/null]\n`);
    const r = await ws.run(['pipelines/o.yaml']);
    assert.equal(r.code, 1);
    assertNoStack(r.result.stderr);
    assert.match(r.result.stderr, /removes failed: the stage removed its own output folder/);
    assert.match(r.result.stderr, /replaces failed: the stage replaced its output folder \(\$\{out\}\) with a file/);
    assert.deepEqual(await readdir(ws.path('cache/tmp')), [], 'nothing left in tmp/');
    for (const command of ['run', 'status']) {
      const device = await ws.tailor([command, 'pipelines/d.yaml']);
      assert.equal(device.code, 2, device.stderr);
      assertNoStack(device.stderr);
      assert.match(device.stderr, /d\.yaml:4:12 error: deps path "\/dev\/null" is not a file or folder/);
    }
  } finally {
    await ws.dispose();
  }
});

test('read-only objects and an object path taken by a file: a message, and the run works once they are fixed', async (t) => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/r.yaml',
      `stages:\n  a:\n    cmd: "echo \${params.v} > \${out}/a"\n    params: { v: 1 }\n`,
    );
    assert.equal((await ws.run(['pipelines/r.yaml'])).code, 0);
    // An object folder replaced by a file: the output is missing, the rerun commits over the debris.
    const out = await outOf(ws, 'pipelines/r.yaml', 'a');
    await rm(out, { recursive: true, force: true });
    await writeFile(out, 'debris\n');
    const show = await ws.tailor(['show', 'pipelines/r.yaml', 'a']);
    assert.equal(show.code, 1);
    assert.match(show.stderr, /the output of a \(\w{12}\) is missing from the cache/);
    const rerun = await ws.run(['pipelines/r.yaml']);
    assert.equal(rerun.code, 0, rerun.result.stderr);
    assert.equal(rerun.actions.a, 'ran');
    assert.ok(statSync(out).isDirectory(), 'the object is a folder again');

    const why = noImmutableFiles();
    if (why) return t.skip(`read-only objects: ${why}`);
    setImmutable(ws.path('cache/objects'), true);
    try {
      const r = await ws.run(['pipelines/r.yaml', '--set', 'a.v=2']);
      assert.equal(r.code, 1);
      assertNoStack(r.result.stderr);
      assert.match(r.result.stderr, /a failed: cannot commit the output: EPERM/);
      assert.deepEqual(await readdir(ws.path('cache/tmp')), [], 'the temp output was removed');
    } finally {
      setImmutable(ws.path('cache/objects'), false);
    }
    assert.equal((await ws.run(['pipelines/r.yaml', '--set', 'a.v=2'])).code, 0);
  } finally {
    await ws.dispose();
  }
});

test('a half-truncated index.sqlite: status, run, show and doctor say so with the repair command; the repair works', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/t.yaml',
      `stages:\n  a:\n    cmd: "echo 1 > \${out}/a"\n  b:\n    cmd: "cat \${needs.a}/a > \${out}/b"\n    needs: [a]\n`,
    );
    assert.equal((await ws.run(['pipelines/t.yaml'])).code, 0);
    const file = ws.path('cache/index.sqlite');
    assert.ok(!existsSync(`${file}-wal`) || statSync(`${file}-wal`).size === 0, 'checkpointed at close');
    await truncate(file, Math.floor(statSync(file).size / 2));
    for (const args of [
      ['status', 'pipelines/t.yaml'],
      ['run', 'pipelines/t.yaml'],
      ['show', 'pipelines/t.yaml', 'a'],
    ]) {
      const r = await ws.tailor(args);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assertNoStack(r.stderr, args[0]);
      assert.match(r.stderr, /cache index .*index\.sqlite is damaged/, args[0]);
      assert.match(r.stderr, /tailor doctor --repair-index --cache /, args[0]);
    }
    const doctor = await ws.tailor(['doctor']);
    assert.equal(doctor.code, 1);
    assertNoStack(doctor.stdout + doctor.stderr, 'doctor');
    assert.match(doctor.stdout, /index integrity: (?!ok)/);
    assert.match(doctor.stdout, /repair it with: tailor doctor --repair-index/);
    const repair = await ws.tailor(['doctor', '--repair-index']);
    assert.equal(repair.code, 0, repair.stderr);
    assert.match(repair.stdout, /the damaged file is .*index\.sqlite\.damaged-/);
    const after = await ws.run(['pipelines/t.yaml']);
    assert.equal(after.code, 0, after.result.stderr);
    assert.equal((await ws.tailor(['doctor'])).code, 0);
  } finally {
    await ws.dispose();
  }
});

test('a killed run is closed as interrupted by the next run; a failure is stored and shown by show', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/k.yaml',
      `stages:\n  a:\n    cmd: "echo \${params.v} > \${out}/a && touch started && sleep \${params.s} && test \${params.v} != 3"\n    params: { v: 1, s: 30 }\n`,
    );
    const child = ws.spawn(['run', 'pipelines/k.yaml']);
    const done = collect(child);
    while (!ws.exists('started')) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await done;
    const statusOf = () => {
      const db = new Database(ws.path('cache/index.sqlite'), { readonly: true });
      try {
        return (db.prepare('SELECT status FROM runs ORDER BY id').all() as Array<{ status: string }>).map(
          (r) => r.status,
        );
      } finally {
        db.close();
      }
    };
    assert.deepEqual(statusOf(), ['running']);
    const ok = await ws.run(['pipelines/k.yaml', '--set', 'a.s=0']);
    assert.equal(ok.code, 0, ok.result.stderr);
    assert.deepEqual(statusOf(), ['interrupted', 'ok'], 'the dangling run was closed when the next one started');

    const bad = await ws.run(['pipelines/k.yaml', '--set', 'a.s=0', '--set', 'a.v=3']);
    assert.equal(bad.code, 1);
    const show = await ws.tailor(['show', 'pipelines/k.yaml', 'a', '--set', 'a.s=0', '--set', 'a.v=3']);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /its last run failed: command exited with code 1 \(log: .*\.log\)/);
    const json = JSON.parse((await ws.tailor(['show', 'pipelines/k.yaml', 'a', '--json'])).stdout) as {
      error?: string;
    };
    assert.equal(json.error, 'command exited with code 1');
  } finally {
    await ws.dispose();
  }
});

test('a module stage fails with a plain StageError message; a cmd stage log holds only the command output', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'stages/strict.ts',
      `import { StageError } from ${JSON.stringify(join(REPO, 'src', 'index.ts'))};
export default {
  params: { type: 'object', properties: {} },
  async run() {
    throw new StageError('data/rows.csv has no rows');
  },
};
`,
    );
    await ws.write(
      'pipelines/m.yaml',
      `stages:\n  strict:\n    uses: stages/strict.ts\n  shell:\n    cmd: "echo about to fail; exit 4"\n`,
    );
    const r = await ws.run(['pipelines/m.yaml']);
    assert.equal(r.code, 1);
    assertNoStack(r.result.stderr);
    assert.match(r.result.stderr, /strict failed: data\/rows\.csv has no rows/);
    assert.match(r.result.stderr, /shell failed: command exited with code 4/);
    const logs = await readdir(ws.path('cache/logs'));
    const read = (stage: string) =>
      readFile(
        ws.path(
          'cache/logs',
          logs.find((l) => l.endsWith(`-${stage}.log`))!,
        ),
        'utf8',
      );
    assert.equal(await read('strict'), 'data/rows.csv has no rows\n');
    assert.equal(await read('shell'), 'about to fail\n');
  } finally {
    await ws.dispose();
  }
});
