/**
 * Outputs are immutable and links cannot leak: committed objects are read-only, a stage that
 * changes an input fails and the input is dropped (also for a parallel reader), links out of an
 * output are refused, export never follows a link out, and `doctor --deep` finds bytes changed
 * behind the stat cache's back. Run as root here (permission bits do not stop root), which is why
 * detection, not only modes, is tested.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TAILOR, Workspace } from './helpers/rig.js';
import { exportOutputs, ExportError } from '../src/run/export-outputs.ts';
import type { StageSpec } from '../src/pipeline/types.ts';

interface Show {
  out: string;
}

async function outOf(ws: Workspace, pipeline: string, stage: string): Promise<string> {
  const r = await ws.tailor(['show', pipeline, stage, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as Show).out;
}

function modes(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(`${e.name}:${(lstatSync(p).mode & 0o777).toString(8)}`);
    if (e.isDirectory()) modes(p, out);
  }
  return out;
}

test('committed objects are read-only: files 444 (555 if executable), folders 555', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/p.yaml',
      'stages:\n  s:\n    cmd: "mkdir -p ${out}/d && echo x > ${out}/d/f && echo y > ${out}/run.sh && chmod 755 ${out}/run.sh"\n',
    );
    assert.equal((await ws.run(['pipelines/p.yaml'])).code, 0);
    const out = await outOf(ws, 'pipelines/p.yaml', 's');
    assert.equal((statSync(out).mode & 0o777).toString(8), '555');
    assert.deepEqual(modes(out).sort(), ['d:555', 'f:444', 'run.sh:555']);
  } finally {
    await ws.dispose();
  }
});

const TAMPER = `stages:
  up:
    cmd: "echo up >> runs.log && echo clean > \${out}/f"
  down:
    needs: [up]
    cmd: "echo down >> runs.log && if [ -f tamper ]; then sh tamper '\${needs.up}'; fi; cat \${needs.up}/f > \${out}/f && echo read > \${out}/by-down"
`;

test('a stage that changes its input fails, the input is dropped and reruns; touch -r does not hide it', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/p.yaml', TAMPER);
    const tampers = [
      'echo evil >> "$1/f"',
      // Same size, mtime put back: only ctime (and inode data) tell.
      'touch -r "$1/f" ref && printf C | dd of="$1/f" bs=1 count=1 conv=notrunc 2>/dev/null && touch -r ref "$1/f"',
      'touch "$1/new-file"',
      'chmod u+w "$1" && rm "$1/f" && echo dirty > "$1/f"',
    ];
    for (const script of tampers) {
      await ws.write('tamper', script);
      const r = await ws.run(['pipelines/p.yaml']);
      assert.equal(r.code, 1, `${script}\n${JSON.stringify(r.actions)}\n${r.result.stdout}\n${r.result.stderr}`);
      assert.equal(r.actions.down, 'failed', script);
      assert.match(
        r.result.stdout + r.result.stderr,
        /input up \(output [0-9a-f]{12}\) was modified while this stage ran/,
      );
      await ws.write('tamper-off', '');
      execFileSync('rm', ['-f', ws.path('tamper')]);
      await ws.clearRuns();
      const again = await ws.run(['pipelines/p.yaml']);
      assert.equal(again.code, 0, again.result.stderr);
      assert.deepEqual(again.actions, { up: 'ran', down: 'ran' }, `the tampered object reruns (${script})`);
      assert.equal(await ws.read('runs.log'), 'up\ndown\n');
      const down = await outOf(ws, 'pipelines/p.yaml', 'down');
      assert.equal(execFileSync('cat', [join(down, 'f')], { encoding: 'utf8' }), 'clean\n');
      // Make both run again next round: forget every output.
      execFileSync('sh', ['-c', `chmod -R u+w "${ws.path('cache/objects')}" && rm -rf "${ws.path('cache/objects')}"`]);
    }
  } finally {
    await ws.dispose();
  }
});

test('a parallel reader of a tampered input does not commit what it read', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/p.yaml',
      `stages:
  up:
    cmd: "echo clean > \${out}/f"
  tamper:
    needs: [up]
    cmd: "sleep 0.3; echo evil >> \${needs.up}/f; sleep 1"
  reader:
    needs: [up]
    cmd: "sleep 0.8; cat \${needs.up}/f > \${out}/copy"
`,
    );
    const r = await ws.run(['pipelines/p.yaml', '--jobs', '3']);
    assert.equal(r.code, 1);
    assert.equal(r.actions.tamper, 'failed');
    assert.equal(r.actions.reader, 'failed', 'read the tampered bytes: not committed');
    const status = JSON.parse((await ws.tailor(['status', 'pipelines/p.yaml', '--json'])).stdout) as {
      stages: Array<{ name: string; state: string }>;
    };
    assert.deepEqual(
      status.stages.map((s) => `${s.name}:${s.state}`),
      ['up:stale', 'tamper:never-run', 'reader:never-run'],
    );
  } finally {
    await ws.dispose();
  }
});

test('a link out of an output fails the stage with a clear message; an inner link is kept and exported', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/p.yaml',
      `stages:
  root:
    cmd: "ln -s / \${out}/root"
    export: { root/etc/hostname: outputs/hostname }
  climb:
    cmd: "mkdir \${out}/d && ln -s ../../.. \${out}/d/up"
  inner:
    cmd: "echo data > \${out}/data.txt && mkdir \${out}/d && ln -s ../data.txt \${out}/d/alias"
    export: { d/alias: outputs/alias.txt }
`,
    );
    const r = await ws.run(['pipelines/p.yaml']);
    assert.equal(r.code, 1, r.result.stderr);
    assert.deepEqual(r.actions, { root: 'failed', climb: 'failed', inner: 'ran' });
    const text = r.result.stdout + r.result.stderr;
    assert.match(text, /output link "root" points to "\/", outside the stage's output folder/);
    assert.match(text, /output link "d\/up" points to "..\/..\/..", outside/);
    assert.doesNotMatch(text, /internal error|at .*\.ts:\d+/);
    assert.ok(!ws.exists('outputs/hostname'));
    assert.equal(await ws.read('outputs/alias.txt'), 'data\n');
    assert.equal((statSync(ws.path('outputs/alias.txt')).mode & 0o777).toString(8), '644', "the copy is the user's");
  } finally {
    await ws.dispose();
  }
});

function spec(exp: Record<string, string>): StageSpec {
  return { name: 's', export: exp } as unknown as StageSpec;
}

test('export failures are clear errors and leave no temp file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tailor-export-'));
  const out = join(root, 'object');
  const work = join(root, 'work');
  mkdirSync(join(out, 'folder'), { recursive: true });
  mkdirSync(join(work, 'outputs', 'taken'), { recursive: true });
  writeFileSync(join(out, 'a.txt'), 'a');
  symlinkSync('nowhere', join(out, 'dangling'));
  symlinkSync('/etc', join(out, 'etc'));
  symlinkSync('/tmp', join(work, 'escape'));
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ 'missing.txt': 'outputs/m' }, /has no missing.txt \(it has a.txt/],
    [{ folder: 'outputs/f' }, /folder is a folder; export copies files/],
    [{ dangling: 'outputs/d' }, /dangling is a link to nothing/],
    [{ 'etc/hostname': 'outputs/h' }, /link that leads out of the stage's output/],
    [{ '../x': 'outputs/x' }, /leaves the stage's output folder/],
    [{ 'a.txt': 'outputs/taken' }, /the target outputs\/taken is a folder/],
    [{ 'a.txt': 'escape/a.txt' }, /escape leads out of the working folder/],
    [{ 'a.txt': '../a.txt' }, /leaves the working folder/],
  ];
  for (const [exp, why] of cases) {
    await assert.rejects(exportOutputs(spec(exp), out, work), (e: unknown) => {
      assert.ok(e instanceof ExportError, String(e));
      assert.match(e.message, /^export /);
      assert.match(e.message, why);
      return true;
    });
  }
  // A read-only target folder (root writes anyway, so make the folder a file's child instead).
  writeFileSync(join(work, 'outputs', 'file'), '');
  await assert.rejects(
    exportOutputs(spec({ 'a.txt': 'outputs/file/a.txt' }), out, work),
    /a part of outputs\/file\/a.txt is a file|cannot write/,
  );
  assert.deepEqual(
    readdirSync(join(work, 'outputs')).filter((n) => n.includes('tailor-export')),
    [],
  );
  assert.deepEqual(await exportOutputs(spec({ 'a.txt': 'outputs/new/a.txt' }), out, work), ['outputs/new/a.txt']);
});

test('doctor --deep finds bytes changed with size and mtime kept, reports with --dry-run, drops without', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/p.yaml', 'stages:\n  s:\n    cmd: "echo s >> runs.log && echo original > ${out}/f"\n');
    assert.equal((await ws.run(['pipelines/p.yaml'])).code, 0);
    const out = await outOf(ws, 'pipelines/p.yaml', 's');
    const f = join(out, 'f');
    execFileSync('sh', [
      '-c',
      `touch -r "${f}" "${ws.path('ref')}" && printf 'ORIGINAL\\n' > "${f}" && touch -r "${ws.path('ref')}" "${f}"`,
    ]);
    const fresh = JSON.parse((await ws.tailor(['status', 'pipelines/p.yaml', '--json'])).stdout) as {
      stages: Array<{ state: string }>;
    };
    assert.equal(fresh.stages[0]?.state, 'fresh', 'the stat cache cannot see it (the trade-off)');
    const dry = await ws.tailor(['doctor', '--deep', '--dry-run']);
    assert.equal(dry.code, 1);
    assert.match(dry.stdout, /1 object\(s\), .* 1 bad found/);
    assert.ok(ws.exists(join('cache', 'objects', out.split('/').pop()!.slice(0, 2))));
    const deep = await ws.tailor(['doctor', '--deep', '--json']);
    assert.equal(deep.code, 1);
    const report = JSON.parse(deep.stdout) as { bad: Array<{ problem: string; records: number }> };
    assert.deepEqual(
      report.bad.map((b) => [b.problem, b.records]),
      [['corrupt', 1]],
    );
    assert.equal((await ws.tailor(['doctor', '--deep'])).code, 0, 'clean now');
    await ws.clearRuns();
    const r = await ws.run(['pipelines/p.yaml']);
    assert.deepEqual(r.actions, { s: 'ran' });
    assert.equal(await ws.read('runs.log'), 's\n');
  } finally {
    await ws.dispose();
  }
});

test('as a user other than root, writing into an upstream output is denied, and tailor still deletes sealed objects', async (t) => {
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/runuser')) {
    t.skip('needs root and runuser, to run tailor as nobody');
    return;
  }
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/p.yaml',
      `stages:
  up:
    cmd: "mkdir \${out}/d && echo clean > \${out}/d/f"
  down:
    needs: [up]
    cmd: "if echo evil >> \${needs.up}/d/f; then echo wrote > \${out}/o; else echo denied > \${out}/o; fi; cp -r \${needs.up}/d \${out}/copy"
`,
    );
    execFileSync('chown', ['-R', 'nobody', ws.dir]);
    execFileSync('chmod', ['755', ws.dir]);
    const asNobody = (...args: string[]) =>
      spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, TAILOR, ...args], {
        cwd: ws.dir,
        encoding: 'utf8',
      });
    const run = asNobody('run', 'pipelines/p.yaml');
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const down = (JSON.parse(asNobody('show', 'pipelines/p.yaml', 'down', '--json').stdout) as Show).out;
    assert.equal(readFileSync(join(down, 'o'), 'utf8'), 'denied\n');
    // Corrupt one object (as root), then let nobody's deep check drop it: a sealed folder tree.
    const up = (JSON.parse(asNobody('show', 'pipelines/p.yaml', 'up', '--json').stdout) as Show).out;
    writeFileSync(join(up, 'd', 'f'), 'changed by root\n');
    const deep = asNobody('doctor', '--deep');
    assert.equal(deep.status, 1, deep.stderr);
    assert.match(deep.stdout, /1 bad dropped/);
    assert.ok(!existsSync(up), 'the sealed object was deleted by a non-root tailor');
  } finally {
    execFileSync('chmod', ['-R', 'u+w', ws.dir]);
    await ws.dispose();
  }
});
