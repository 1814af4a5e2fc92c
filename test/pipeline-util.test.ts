/** The loader's small parts: shell quoting, suggestions, diagnostics printing, schema codegen, tree cache. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatDiagnostic } from '../src/pipeline/diagnostics.js';
import { closest, didYouMean, levenshtein } from '../src/pipeline/levenshtein.js';
import { loadPipeline } from '../src/pipeline/load.js';
import { GENERATED_FILE, generateValidatorSource } from '../src/pipeline/schema-codegen.js';
import { envText, shellQuote } from '../src/pipeline/cmd-env.js';

test('shellQuote: every value reaches a real sh as exactly one word, unchanged', () => {
  const values = ["it's", 'a b', '$(touch /tmp/x) `id` $HOME', '', 'line\nbreak', "''", 'back\\slash', '--flag', 'ünï'];
  for (const v of values) {
    const out = execFileSync('sh', ['-c', `printf '%s|' ${shellQuote(v)}`], { encoding: 'utf8' });
    assert.equal(out, `${v}|`, `value ${JSON.stringify(v)}`);
  }
  assert.equal(envText(224), '224');
  assert.equal(envText(true), 'true');
  assert.equal(envText([1, 'a']), '[1,"a"]');
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});

test('levenshtein and suggestions', () => {
  assert.equal(levenshtein('kitten', 'sitting'), 3);
  assert.equal(levenshtein('', 'abc'), 3);
  assert.equal(levenshtein('needs', 'needs'), 0);
  assert.equal(closest('needz', ['uses', 'cmd', 'needs', 'deps']), 'needs');
  assert.equal(closest('PAD', ['pad', 'fetch']), 'pad');
  assert.equal(closest('zzzzzz', ['pad', 'fetch']), undefined);
  assert.equal(didYouMean('fech', ['fetch', 'pad']), 'did you mean "fetch"?');
});

test('formatDiagnostic: location, message, hint, source line, underline, related notes, color', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-diag-'));
  const file = join(dir, 'x.yaml');
  writeFileSync(file, 'stages:\n\tpad:\n    needz: [fetch]\n');
  const d = {
    severity: 'error' as const,
    message: 'unknown key "needz" in stages.pad',
    hint: 'did you mean "needs"?',
    key: 'stages.pad.needz',
    pos: { file, line: 3, col: 5, length: 5 },
    related: [{ message: 'stage defined here', pos: { file, line: 2, col: 2, length: 3 } }],
  };
  assert.equal(
    formatDiagnostic(d),
    [
      `${file}:3:5 error: unknown key "needz" in stages.pad (did you mean "needs"?)`,
      ' 3 |     needz: [fetch]',
      '   |     ^~~~~',
      `${file}:2:2 note: stage defined here`,
      ' 2 | \tpad:',
      '   | \t^~~',
    ].join('\n'),
  );
  const colored = formatDiagnostic(d, { color: true });
  assert.match(colored, /\x1b\[31m/);
  assert.equal(colored.replace(/\x1b\[[0-9;]*m/g, ''), formatDiagnostic(d));
  // A position in a file that went away still prints its first line.
  assert.equal(
    formatDiagnostic({ severity: 'warning', message: 'gone', pos: { file: join(dir, 'nope.yaml'), line: 1, col: 1 } }),
    `${join(dir, 'nope.yaml')}:1:1 warning: gone`,
  );
});

test('the committed ajv validator is generated from the current pipeline.schema.json', () => {
  assert.equal(
    readFileSync(GENERATED_FILE, 'utf8'),
    generateValidatorSource(),
    'run: node --import tsx src/pipeline/schema-codegen.ts --write',
  );
});

test('parsed-tree cache: a hit gives the same pipeline, an edit is seen, a corrupt entry is ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-tree-cache-'));
  const file = join(dir, 'p.yaml');
  const cacheDir = join(dir, 'cache');
  writeFileSync(file, 'vars: { n: 2 }\nstages:\n  a:\n    cmd: "echo ${params.n}"\n    params: { n: "${vars.n}" }\n');
  const first = loadPipeline(file, { workdir: dir, cacheDir });
  assert.ok(first.ok);
  const entries = readdirSync(join(cacheDir, 'pipeline-trees'));
  assert.equal(entries.length, 1);
  const second = loadPipeline(file, { workdir: dir, cacheDir });
  assert.deepEqual(second, first);

  writeFileSync(file, 'vars: { n: 3 }\nstages:\n  a:\n    cmd: "echo ${params.n}"\n    params: { n: "${vars.n}" }\n');
  const edited = loadPipeline(file, { workdir: dir, cacheDir });
  assert.ok(edited.ok && edited.value.stages[0]?.cmd === `export TAILOR_PARAM_N='3'; echo "\${TAILOR_PARAM_N}"`);
  assert.deepEqual(readdirSync(join(cacheDir, 'pipeline-trees')), entries, 'one entry per file, overwritten');

  // An error found through a cached tree still points into the template.
  writeFileSync(file, 'vars: { n: 3 }\nstages:\n  a:\n    cmd: "echo ${params.m}"\n    params: { n: "${vars.n}" }\n');
  loadPipeline(file, { workdir: dir, cacheDir });
  const bad = loadPipeline(file, { workdir: dir, cacheDir });
  assert.ok(!bad.ok);
  assert.deepEqual([bad.error[0]?.pos?.line, bad.error[0]?.pos?.col], [4, 16]);

  const entry = join(cacheDir, 'pipeline-trees', entries[0] ?? '');
  const [hash] = readFileSync(entry, 'utf8').split('\n');
  writeFileSync(entry, `${hash}\n[2, "garbage"`);
  const afterCorruption = loadPipeline(file, { workdir: dir, cacheDir });
  assert.ok(!afterCorruption.ok && afterCorruption.error[0]?.message.includes('params.m'));
});

test('stage names with dots: --set picks the longest stage-name prefix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-dots-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(
    file,
    'stages:\n  v1.5:\n    cmd: "echo ${params.x.y}"\n    params: { x: { y: 1 } }\n  v1:\n    cmd: "echo ${params.z}"\n    params: { z: 0 }\n',
  );
  const r = loadPipeline(file, { workdir: dir, sets: ['v1.5.x.y=2', 'v1.z=3'] });
  assert.ok(r.ok);
  assert.deepEqual(
    r.value.stages.map((s) => [s.name, s.params]),
    [
      ['v1.5', { x: { y: 2 } }],
      ['v1', { z: 3 }],
    ],
  );
  assert.equal(r.value.stages[0]?.cmd, `export TAILOR_PARAM_X_Y='2'; echo "\${TAILOR_PARAM_X_Y}"`);
});

test('foreach labels that collide after sanitizing are an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-collide-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, 'stages:\n  t:\n    foreach: ["a b", "a_b"]\n    cmd: "echo ${item}"\n');
  const r = loadPipeline(file, { workdir: dir });
  assert.ok(!r.ok);
  assert.deepEqual(
    r.error.map((d) => [d.message, d.key, d.pos?.line, d.pos?.col]),
    [['two stages are named "t@a_b" (foreach labels collide)', 'stages.t', 2, 3]],
  );
});

test('a missing pipeline file is an error that names it', () => {
  const r = loadPipeline('/nonexistent/pipeline.yaml');
  assert.ok(!r.ok);
  assert.match(r.error[0]?.message ?? '', /pipeline\.yaml: file not found/);
});
