/**
 * `tailor <command> --help` for every command and exp subcommand, made from the same option
 * tables the parser uses (issue 11, point 7); and the headline metric a pipeline names, in the
 * run summary and the log (point 6).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SPECS } from '../src/cli/command-specs.js';
import { Workspace } from './helpers/rig.js';

test('every command answers --help with its usage and every option the parser accepts', async () => {
  const ws = await Workspace.create();
  try {
    for (const [name, spec] of Object.entries(SPECS)) {
      const r = await ws.tailor([...name.split(' '), '--help']);
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^usage: tailor ${name}\\b`), name);
      for (const [option, o] of Object.entries(spec.options)) {
        assert.match(
          r.stdout,
          new RegExp(`--${option}\\b.*${o.help.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
          `${name} --${option}`,
        );
      }
    }
    const top = await ws.tailor(['--help']);
    assert.equal(top.code, 0);
    for (const name of Object.keys(SPECS).filter((n) => !n.includes(' ')))
      assert.match(top.stdout, new RegExp(`^  ${name} `, 'm'));
    assert.equal((await ws.tailor(['help', 'exp', 'queue'])).stdout, (await ws.tailor(['exp', 'queue', '-h'])).stdout);
  } finally {
    await ws.dispose();
  }
});

test('an unknown option is a usage error that points at --help', async () => {
  const ws = await Workspace.create();
  try {
    const r = await ws.tailor(['run', '--no-such-option']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tailor run: Unknown option '--no-such-option'.*see `tailor run --help`/);
    const sub = await ws.tailor(['exp', 'show', '--bogus']);
    assert.equal(sub.code, 2);
    assert.match(sub.stderr, /see `tailor exp show --help`/);
  } finally {
    await ws.dispose();
  }
});

test('a pipeline names its headline metric; without one, no ML words appear for a pipeline that has none', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write(
      'pipelines/h.yaml',
      `headline: { metric: score.acc, label: accuracy, baseline: { metric: ref.acc, label: "majority class" } }
stages:
  base:
    cmd: "echo '{\\"ref\\":{\\"acc\\":0.5}}' > \${out}/metrics.json"
  model:
    cmd: "echo '{\\"score\\":{\\"acc\\":0.875}}' > \${out}/metrics.json"
`,
    );
    const r = await ws.tailor(['run', 'pipelines/h.yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /stage\s+action\s+seconds\s+accuracy\n/);
    assert.match(r.stdout, /model\s+ran\s+[\d.]+\s+0\.8750/);
    assert.match(r.stdout, /\(majority class: 0\.5000\)/);
    assert.match(r.stderr, /✓ model\s+ran in [\d.]+s\s+accuracy 0\.8750/);
    assert.doesNotMatch(r.stdout + r.stderr, /micro-F1/);

    await ws.write('pipelines/plain.yaml', `stages:\n  a:\n    cmd: "echo 1 > \${out}/a"\n`);
    const plain = await ws.tailor(['run', 'pipelines/plain.yaml']);
    assert.equal(plain.code, 0);
    assert.doesNotMatch(plain.stdout + plain.stderr, /micro-F1/);
    await ws.write('pipelines/bad.yaml', `headline: { label: nothing }\nstages:\n  a:\n    cmd: "true"\n`);
    const invalid = await ws.tailor(['status', 'pipelines/bad.yaml']);
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /bad\.yaml:1:\d+.*metric/);
  } finally {
    await ws.dispose();
  }
});
