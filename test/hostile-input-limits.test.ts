/**
 * Inputs that used to be accepted and should not be: missing or special `deps`, YAML alias bombs
 * (in the file and in `--set`), seeds that cannot be kept exactly; and two diagnostics that pointed
 * to the wrong place or folder: an unclosed `[` and the parsed-tree cache under `--cache`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipeline } from '../src/pipeline/load.ts';
import { Workspace } from './helpers/rig.js';

function diagnostics(yaml: string, sets: string[] = []): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-limits-'));
  writeFileSync(join(dir, 'present.csv'), 'a\n');
  const file = join(dir, 'p.yaml');
  writeFileSync(file, yaml);
  const r = loadPipeline(file, { workdir: dir, cacheDir: false, sets });
  return r.ok ? [] : r.error.map((d) => `${d.pos?.line}:${d.pos?.col} ${d.key ?? ''} ${d.message}`);
}

test('a missing deps path, or one that is not a file or folder, is an error at its position when loading', () => {
  const found = diagnostics('stages:\n  s:\n    cmd: "true"\n    deps: [present.csv, data/missing.csv, /dev/null]\n');
  assert.equal(found.length, 2, found.join('\n'));
  assert.match(found[0] ?? '', /^4:25 stages\.s\.deps\.1 deps path "data\/missing\.csv" does not exist/);
  assert.match(found[1] ?? '', /^4:43 stages\.s\.deps\.2 deps path "\/dev\/null" is not a file or folder/);
});

const BOMB = `a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
stages: { s: { cmd: "true", params: { g: *g } } }
`;

test('YAML alias expansion is bounded: a 10^7-node bomb is one clear error; ordinary anchors still work', () => {
  const found = diagnostics(BOMB);
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0] ?? '', /YAML aliases expand to more than 100,000 nodes/);
  assert.deepEqual(
    diagnostics(
      'vars: { common: &c { size: 224, quality: 85 } }\nstages:\n  a: { cmd: "echo ${params.size}", params: *c }\n  b: { cmd: "echo ${params.quality}", params: *c }\n',
    ),
    [],
  );
  const set = diagnostics('stages:\n  s:\n    cmd: "echo ${params.x}"\n    params: { x: 1 }\n', [
    `s.x=[${'&a [1,1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]'}]`,
  ]);
  assert.equal(set.length, 1);
  assert.match(set[0] ?? '', /malformed --set value .*alias/i);
});

test('seeds must be whole numbers from 0 to 2^53-1, with a message that says why', () => {
  const cases: Array<[string, RegExp]> = [
    [
      '99999999999999999999999999',
      /must be a whole number from 0 to 2\^53-1 .* got number 1e\+26: larger numbers are rounded/,
    ],
    ['9007199254740993', /must be a whole number from 0 to 2\^53-1/],
    ['1e400', /must be an integer, got a number too large to represent \(Infinity\)/],
    ['.nan', /must be an integer, got NaN/],
    ['-1', /must be >= 0/],
    ['1.5', /must be an integer/],
  ];
  for (const [seed, why] of cases) {
    for (const yaml of [
      `seed: ${seed}\nstages:\n  s:\n    cmd: "true"\n`,
      `stages:\n  s:\n    cmd: "true"\n    seed: ${seed}\n`,
    ]) {
      const found = diagnostics(yaml);
      assert.equal(found.length, 1, `${seed}: ${found.join('; ')}`);
      assert.match(found[0] ?? '', why, seed);
    }
  }
  assert.deepEqual(diagnostics('seed: 9007199254740991\nstages:\n  s:\n    cmd: "true"\n'), []);
});

test('an unclosed [ or { is reported where it opens, not where the parser gave up', () => {
  assert.match(diagnostics('a: [unclosed\n')[0] ?? '', /^1:4 +YAML syntax: this "\[" is never closed/);
  assert.match(
    diagnostics('stages:\n  s:\n    cmd: "true"\n    needs: [a, "b]"\n\n\n# end\n')[0] ?? '',
    /^4:12 +YAML syntax: this "\[" is never closed/,
  );
  assert.match(diagnostics('x: a[0]\nb: {c: 1\n')[0] ?? '', /^2:4 +YAML syntax: this "\{" is never closed/);
});

test('the parsed-tree cache goes to the --cache folder, never to ./cache', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/p.yaml', 'stages:\n  s:\n    cmd: "true"\n');
    mkdirSync(ws.path('cache'));
    const other = ws.path('elsewhere');
    for (const cmd of [['status'], ['dag'], ['run']]) {
      const r = await ws.tailor([...cmd, 'pipelines/p.yaml', '--cache', other]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(readdirSync(ws.path('cache')), [], './cache untouched');
    assert.equal(readdirSync(join(other, 'pipeline-trees')).length, 1);
    assert.ok(!existsSync(join(ws.path('cache'), 'pipeline-trees')));
  } finally {
    await ws.dispose();
  }
});
