/** Loading real pipeline files: templating with types, foreach/matrix, needs, --set, extends, size. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from '../src/pipeline/diagnostics.js';
import { loadPipeline } from '../src/pipeline/load.js';
import type { Pipeline, StageSpec } from '../src/pipeline/types.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const pipelines = join(fixtures, 'pipelines');

function load(file: string, sets: string[] = []): Pipeline {
  const r = loadPipeline(join(pipelines, file), { sets, workdir: fixtures });
  if (!r.ok) assert.fail(r.error.map((d) => formatDiagnostic(d)).join('\n'));
  return r.value;
}

function stage(p: Pipeline, name: string): StageSpec {
  const s = p.stages.find((x) => x.name === name);
  assert.ok(s, `stage ${name} in ${p.stages.map((x) => x.name).join(', ')}`);
  return s;
}

test('pipeline fields: name, file, workdir, description, vars resolved', () => {
  const p = load('templating.yaml');
  assert.equal(p.name, 'pipelines/templating.yaml', 'identified by its path from the working folder');
  assert.equal(p.displayName, 'templating');
  assert.equal(p.file, join(pipelines, 'templating.yaml'));
  assert.equal(p.workdir, fixtures.replace(/\/$/, ''));
  assert.equal(p.description, 'templating, types and foreach');
  assert.deepEqual(p.sources, [join(pipelines, 'templating.yaml')]);
  assert.equal(p.vars.tag, 'img-224');
});

test('a string that is exactly one ${...} keeps the type; others interpolate', () => {
  const p = load('templating.yaml');
  assert.deepEqual(stage(p, 'pad').params, { size: 224, nested: { name: 'xception', dims: [299, 299] } });
  assert.deepEqual(stage(p, 'typed').params, {
    label: 'size 224 at 0.25',
    ratio: 0.25,
    flag: true,
    list: ['mobilenet_v2', 'inception_v3'],
    first: 'mobilenet_v2',
    dim: 299,
    literal: '${vars.size}',
  });
  assert.deepEqual(stage(p, 'pad').deps, ['data/extra-224.csv']);
  assert.deepEqual(stage(p, 'fetch').params, { note: "it's xception" });
});

test('cmd: values exported as single-quoted literals and referenced as variables; ${out}, ${needs.X} by the runner', () => {
  const p = load('templating.yaml');
  assert.equal(
    stage(p, 'fetch').cmd,
    `export TAILOR_VAR_TAG='img-224'; echo "\${TAILOR_VAR_TAG}" > "\${TAILOR_OUT}"/tag.txt`,
  );
  assert.equal(
    stage(p, 'typed').cmd,
    `export TAILOR_PARAM_LABEL='size 224 at 0.25' TAILOR_PARAM_LIST='["mobilenet_v2","inception_v3"]' TAILOR_PARAM_RATIO='0.25'; ` +
      `echo "\${TAILOR_PARAM_LABEL}" "\${TAILOR_PARAM_RATIO}" "\${TAILOR_PARAM_LIST}"`,
  );
  assert.equal(
    stage(p, 'head@inception_v3-0.01').cmd,
    `export TAILOR_ITEM_BACKBONE='inception_v3' TAILOR_PARAM_LR='0.01'; ` +
      `train "\${TAILOR_ITEM_BACKBONE}" --lr "\${TAILOR_PARAM_LR}" --in "\${TAILOR_NEED_PRECOMPUTE_INCEPTION_V3}" --out "\${TAILOR_OUT}"`,
  );
  assert.equal(stage(p, 'ensemble').cmd, 'ensemble "${TAILOR_NEED_HEAD_MOBILENET_V2_0_1}"');
});

test('module stages: uses resolved against workdir, kind and builtin set', () => {
  const p = load('templating.yaml');
  const pad = stage(p, 'pad');
  assert.equal(pad.kind, 'module');
  assert.equal(pad.module, join(fixtures, 'stages', 'params-demo.ts'));
  assert.equal(pad.builtin, false);
  assert.equal(pad.cmd, undefined);
  assert.equal(stage(p, 'fetch').kind, 'cmd');
});

test('foreach over a list: one stage per item, ${item} typed, group recorded', () => {
  const p = load('templating.yaml');
  const members = p.stages.filter((s) => s.group === 'precompute');
  assert.deepEqual(
    members.map((s) => s.name),
    ['precompute@mobilenet_v2', 'precompute@inception_v3'],
  );
  assert.deepEqual(
    members.map((s) => s.item),
    ['mobilenet_v2', 'inception_v3'],
  );
  assert.equal(members[1]?.description, 'features of inception_v3');
  assert.deepEqual(members[0]?.needs, ['pad']);
});

test('foreach over a map of lists: the matrix, names GROUP@v1-v2, needs per item', () => {
  const p = load('templating.yaml');
  const heads = p.stages.filter((s) => s.group === 'head');
  assert.deepEqual(
    heads.map((s) => s.name),
    ['head@mobilenet_v2-0.1', 'head@mobilenet_v2-0.01', 'head@inception_v3-0.1', 'head@inception_v3-0.01'],
  );
  assert.deepEqual(stage(p, 'head@inception_v3-0.1').params, { lr: 0.1, backbone: 'inception_v3' });
  assert.deepEqual(stage(p, 'head@inception_v3-0.1').item, { backbone: 'inception_v3', lr: 0.1 });
  assert.deepEqual(stage(p, 'head@inception_v3-0.1').needs, ['precompute@inception_v3']);
});

test('object items are named by their name (sanitized) or their index', () => {
  const p = load('templating.yaml');
  assert.deepEqual(
    p.stages.filter((s) => s.group === 'sweep').map((s) => [s.name, s.params.width]),
    [
      ['sweep@small_one', 8],
      ['sweep@large', 64],
      ['sweep@2', 16],
    ],
  );
});

test('needs naming a foreach group expands to all its members; order is topological, ties in file order', () => {
  const p = load('templating.yaml');
  assert.deepEqual(stage(p, 'ensemble').needs, [
    'head@mobilenet_v2-0.1',
    'head@mobilenet_v2-0.01',
    'head@inception_v3-0.1',
    'head@inception_v3-0.01',
    'sweep@small_one',
    'sweep@large',
    'sweep@2',
  ]);
  const order = p.stages.map((s) => s.name);
  for (const s of p.stages)
    for (const n of s.needs) assert.ok(order.indexOf(n) < order.indexOf(s.name), `${n} before ${s.name}`);
  assert.deepEqual(order.slice(0, 5), ['fetch', 'pad', 'typed', 'precompute@mobilenet_v2', 'precompute@inception_v3']);
  assert.equal(order.at(-1), 'ensemble');
});

test('seed, export, resources, verify and positions', () => {
  const p = load('templating.yaml');
  assert.equal(stage(p, 'pad').seed, 3);
  assert.equal(stage(p, 'fetch').seed, 11);
  const ens = stage(p, 'ensemble');
  assert.deepEqual(ens.export, { 'submission.csv': 'outputs/submission.csv' });
  assert.deepEqual(ens.resources, { gpu: 1 });
  assert.deepEqual(stage(p, 'fetch').resources, { gpu: 0 });
  assert.deepEqual(ens.verify, { deterministic: false, tolerance: { 'holdout.micro_f1': 0.01 } });
  const pad = stage(p, 'pad');
  assert.deepEqual([pad.pos.line, pad.pos.col], [14, 3]);
  assert.deepEqual([pad.keyPos['params.size']?.line, pad.keyPos['params.size']?.col], [19, 7]);
  assert.deepEqual([pad.valuePos?.['params.size']?.line, pad.valuePos?.['params.size']?.col], [19, 13]);
  assert.equal(pad.keyPos.uses?.line, 15);
});

test('--set: typed values, nested params, groups, one member, vars before templating', () => {
  const p = load('templating.yaml', [
    'pad.size=299',
    'pad.nested.depth=3',
    'head.lr=0.5',
    'head@inception_v3-0.01.lr=1e-3',
    'vars.size=512',
    'typed.list=[1, 2]',
    'typed.flag=false',
    'typed.label=hello world',
    'typed.first={a: 1}',
  ]);
  assert.deepEqual(stage(p, 'pad').params, { size: 299, nested: { name: 'xception', dims: [299, 299], depth: 3 } });
  assert.deepEqual(
    p.stages.filter((s) => s.group === 'head').map((s) => s.params.lr),
    [0.5, 0.5, 0.5, 0.001],
  );
  assert.equal(
    stage(p, 'fetch').cmd,
    `export TAILOR_VAR_TAG='img-512'; echo "\${TAILOR_VAR_TAG}" > "\${TAILOR_OUT}"/tag.txt`,
  );
  assert.deepEqual(stage(p, 'pad').deps, ['data/extra-512.csv']);
  const typed = stage(p, 'typed');
  assert.deepEqual(typed.params.list, [1, 2]);
  assert.equal(typed.params.flag, false);
  assert.equal(typed.params.label, 'hello world');
  assert.deepEqual(typed.params.first, { a: 1 });
  // cmd sees the overridden params.
  assert.equal(
    typed.cmd,
    `export TAILOR_PARAM_LABEL='hello world' TAILOR_PARAM_LIST='[1,2]' TAILOR_PARAM_RATIO='0.25'; ` +
      `echo "\${TAILOR_PARAM_LABEL}" "\${TAILOR_PARAM_RATIO}" "\${TAILOR_PARAM_LIST}"`,
  );
  // An overridden param's position is the command line.
  assert.deepEqual(stage(p, 'pad').valuePos?.['params.size'], {
    file: '--set',
    line: 1,
    col: 10,
    length: 3,
    text: 'pad.size=299',
  });
  // The pipeline file's own values are untouched by a --set on another member.
  assert.equal(stage(p, 'head@inception_v3-0.1').params.lr, 0.5);
});

test('--set values that are not numbers stay strings; an empty value is an empty string', () => {
  const p = load('templating.yaml', ['typed.label=0.25x', 'typed.first=', 'typed.dim="299"']);
  const typed = stage(p, 'typed');
  assert.equal(typed.params.label, '0.25x');
  assert.equal(typed.params.first, '');
  assert.equal(typed.params.dim, '299');
});

test('extends: vars and params deep-merged, stages overridden, added and removed, chains', () => {
  const child = load('extends/child.yaml');
  assert.deepEqual(child.sources, [join(pipelines, 'extends/child.yaml'), join(pipelines, 'extends/base.yaml')]);
  assert.equal(child.description, 'the base pipeline');
  assert.deepEqual(stage(child, 'pad').params, { size: 299, quality: 85, nested: { depth: 2 } });
  assert.deepEqual(stage(child, 'pad').needs, ['fetch']);
  // The child's `uses` replaces the parent's `cmd`; the parent's needs stay.
  const report = stage(child, 'report');
  assert.equal(report.kind, 'module');
  assert.equal(report.cmd, undefined);
  assert.deepEqual(report.needs, ['pad']);
  assert.deepEqual(stage(child, 'split').needs, ['pad']);
  assert.deepEqual(
    child.stages.map((s) => s.name),
    ['fetch', 'pad', 'report', 'split'],
  );
  assert.equal(stage(child, 'fetch').seed, 1);
  // Positions stay with the file each value came from.
  assert.equal(stage(child, 'pad').valuePos?.['params.nested.depth']?.file, join(pipelines, 'extends/child.yaml'));
  assert.equal(stage(child, 'pad').valuePos?.['params.quality']?.file, join(pipelines, 'extends/base.yaml'));

  const grand = load('extends/grandchild.yaml');
  assert.equal(grand.sources.length, 3);
  assert.deepEqual(
    grand.stages.map((s) => s.name),
    ['fetch', 'pad', 'split'],
  );
  assert.equal(stage(grand, 'fetch').cmd, 'echo fetch again');
  assert.deepEqual(stage(grand, 'pad').params, { size: 299, quality: 70, nested: { depth: 2 } });
  assert.equal(stage(grand, 'split').seed, 5);
});

test('a 1,000-stage chain loads correctly (and quickly)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-chain-'));
  const lines = ['vars: { n: 3 }', 'stages:'];
  for (let i = 0; i < 1000; i++) {
    lines.push(`  s${i}:`, `    cmd: "echo ${i} \${params.n} > \${out}/x"`, '    params: { n: "${vars.n}" }');
    if (i > 0) lines.push(`    needs: [s${i - 1}]`);
  }
  // Written in reverse so file order and dependency order disagree.
  const file = join(dir, 'chain.yaml');
  writeFileSync(file, [...lines.slice(0, 2), ...reverseStages(lines.slice(2))].join('\n'));
  const started = performance.now();
  const r = loadPipeline(file, { workdir: dir });
  const ms = performance.now() - started;
  if (!r.ok) assert.fail(r.error.map((d) => formatDiagnostic(d)).join('\n'));
  assert.equal(r.value.stages.length, 1000);
  assert.deepEqual(
    r.value.stages.map((s) => s.name),
    Array.from({ length: 1000 }, (_, i) => `s${i}`),
  );
  assert.deepEqual(r.value.stages[999]?.needs, ['s998']);
  assert.equal(r.value.stages[5]?.cmd, `export TAILOR_PARAM_N='3'; echo 5 "\${TAILOR_PARAM_N}" > "\${TAILOR_OUT}"/x`);
  t.diagnostic(`1,000-stage load: ${ms.toFixed(1)} ms (cold, first load in this process)`);
});

/** Stage blocks (each starting at a 2-space key line) in reverse order. */
function reverseStages(lines: string[]): string[] {
  const blocks: string[][] = [];
  for (const l of lines) {
    if (/^ {2}\S/.test(l)) blocks.push([l]);
    else blocks.at(-1)?.push(l);
  }
  return blocks.reverse().flat();
}

test('uses: a bare name is a built-in stage of the tailor package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tailor-builtin-'));
  const file = join(dir, 'p.yaml');
  writeFileSync(file, 'stages:\n  submit:\n    uses: submit\n');
  const r = loadPipeline(file, { workdir: dir });
  if (!r.ok) assert.fail(r.error.map((d) => formatDiagnostic(d)).join('\n'));
  assert.equal(r.value.stages[0]?.builtin, true);
  assert.equal(r.value.stages[0]?.module, fileURLToPath(new URL('../stages/submit.ts', import.meta.url)));
});
