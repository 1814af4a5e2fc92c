/**
 * `tailor verify` against a committed lock file: a fresh run in a temporary cache, compared
 * stage by stage (output hashes of deterministic stages, metrics within tolerance), on a toy
 * workspace with a module stage, a deterministic cmd stage and a noisy one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Workspace } from './helpers/rig.js';

// greet declares itself deterministic in the module; upper in the YAML; noisy writes a random
// metric within a declared tolerance and is compared by metrics only.
const PIPELINE = (name = 'tailor') => `
stages:
  greet:
    uses: stages/greet.ts
    params: { name: ${name} }
    verify: { tolerance: { "holdout.micro_f1": 0.015 } }
    export: { greeting.txt: outputs/greeting.txt }
  upper:
    cmd: "tr a-z A-Z < \${needs.greet}/greeting.txt > \${out}/upper.txt"
    needs: [greet]
    verify: { deterministic: true }
  noisy:
    cmd: "n=$(od -An -N1 -tu1 /dev/urandom | tr -d ' '); echo $n > \${out}/n; printf '{\\"holdout\\":{\\"micro_f1\\":0.5%03d}}' $n > \${out}/metrics.json"
    verify: { tolerance: { "holdout.micro_f1": 0.05 } }
`;

const GREET = `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suffix } from './helper.js';

export default {
  params: { type: 'object', properties: { name: { type: 'string', default: 'world' } }, additionalProperties: false },
  deterministic: true,
  async run(ctx: { params: { name: string }; out: string; metrics(v: object): void }) {
    const text = 'hello ' + ctx.params.name + suffix;
    writeFileSync(join(ctx.out, 'greeting.txt'), text);
    // A timing, as most stages report: metrics.json differs every run, the rest does not.
    ctx.metrics({ holdout: { micro_f1: 0.5 + text.length / 100 }, chars: text.length, seconds: performance.now() / 1000 });
  },
};
`;

interface VerifyJson {
  ok: boolean;
  stages: string[];
  checks: Array<{ stage: string; check: string; expected: string; got: string; verdict: string; note?: string }>;
}

async function committed(): Promise<Workspace> {
  const ws = await Workspace.create('tailor-verify-ws-');
  await ws.write('stages/helper.ts', `export const suffix = '!';\n`);
  await ws.write('stages/greet.ts', GREET);
  await ws.write('pipelines/v.yaml', PIPELINE());
  const run = await ws.run(['pipelines/v.yaml']);
  assert.equal(run.code, 0, run.result.stderr);
  assert.ok(ws.exists('pipelines/v.lock.json'));
  return ws;
}

async function verifyTemps(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((f) => f.startsWith('tailor-verify-') && !f.startsWith('tailor-verify-ws-'));
}

test('verify passes on an untouched tree, touching neither the lock file, the exports nor the temp folder', async () => {
  const ws = await committed();
  try {
    const lockBefore = await ws.read('pipelines/v.lock.json');
    await ws.write('outputs/greeting.txt', 'mine\n');
    const tempsBefore = await verifyTemps();

    const r = await ws.tailor(['verify', 'pipelines/v.yaml']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^stage\s+check\s+expected\s+got\s+verdict\s+note$/m);
    assert.match(r.stdout, /^greet\s+output\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+ok\s*$/m);
    assert.match(r.stdout, /^upper\s+output\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+ok\s*$/m);
    assert.match(r.stdout, /^greet\s+metric holdout\.micro_f1\s+0\.63\s+0\.63\s+ok\s+\|Δ\| 0 <= 0\.015$/m);
    assert.match(
      r.stdout,
      /^greet\s+metrics \(1 more\)\s+exact\s+equal\s+ok/m,
      'exact metrics are folded into one row',
    );
    assert.match(r.stdout, /^greet\s+timings \(1\)\s+not compared\s+seconds$/m, 'timings are not compared');
    assert.match(r.stdout, /^noisy\s+metric holdout\.micro_f1\s+0\.5\d*\s+0\.5\d*\s+ok\s+\|Δ\| \S+ <= 0\.05$/m);
    assert.doesNotMatch(r.stdout, /^noisy\s+output/m, 'not deterministic: its bytes are not compared');
    assert.match(r.stdout, /verify: ok: 3 stage\(s\)/);

    assert.equal(await ws.read('pipelines/v.lock.json'), lockBefore, 'the lock file is not rewritten');
    assert.equal(await ws.read('outputs/greeting.txt'), 'mine\n', 'exports are not written');
    assert.deepEqual(await verifyTemps(), tempsBefore, 'the temporary cache is removed');

    const json = await ws.tailor(['verify', 'pipelines/v.yaml', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as VerifyJson;
    assert.equal(parsed.ok, true);
    assert.deepEqual(parsed.stages.sort(), ['greet', 'noisy', 'upper']);
    assert.ok(parsed.checks.some((c) => c.stage === 'greet' && c.check === 'metric chars' && c.verdict === 'ok'));
    assert.ok(
      parsed.checks.some((c) => c.stage === 'greet' && c.check === 'metric seconds' && c.verdict === 'not-compared'),
    );
    const lock = JSON.parse(lockBefore) as { stages: Record<string, { output: string; content?: string }> };
    assert.ok(
      lock.stages.greet?.content && lock.stages.greet.content !== lock.stages.greet.output,
      'the lock records a content hash without metrics.json',
    );
    const keys = Object.fromEntries(parsed.checks.filter((c) => c.check === 'key').map((c) => [c.stage, c.verdict]));
    // greet's metrics.json (its timing) changes its tree hash but not its content hash, which is
    // what upper's key is made of: every key matches the lock.
    assert.deepEqual(keys, { greet: 'ok', upper: 'ok', noisy: 'ok' });
  } finally {
    await ws.dispose();
  }
});

test('verify fails with a readable table when a helper of a stage changes its output', async () => {
  const ws = await committed();
  try {
    await ws.write('stages/helper.ts', `export const suffix = '?';\n`);
    const r = await ws.tailor(['verify', 'pipelines/v.yaml']);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    // The stage changed (explained from the run the working cache remembers) and so did its bytes.
    assert.match(r.stdout, /^greet\s+key\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+changed\s+code stages\/helper\.ts changed$/m);
    assert.match(
      r.stdout,
      /^greet\s+output\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+MISMATCH\s+the stage changed and so did its output/m,
    );
    // Same length, same metrics.
    assert.match(r.stdout, /^greet\s+metric holdout\.micro_f1\s+0\.63\s+0\.63\s+ok/m);
    // upper is deterministic but only its input changed: its bytes cannot be expected to match.
    assert.match(r.stdout, /^upper\s+key\s+.*changed\s+same code, params and deps; upstream output differs$/m);
    assert.match(r.stdout, /^upper\s+output\s+.*not compared\s+deterministic, but its inputs differ/m);
    assert.match(r.stdout, /^verify: FAILED: 1 check\(s\) in 1 stage\(s\) do not match the lock file: greet$/m);
  } finally {
    await ws.dispose();
  }
});

test('verify --stage checks a stage and its upstream; a metric beyond tolerance and a stage missing from the lock fail', async () => {
  const ws = await committed();
  try {
    const only = JSON.parse(
      (await ws.tailor(['verify', 'pipelines/v.yaml', '--stage', 'upper', '--json'])).stdout,
    ) as VerifyJson;
    assert.equal(only.ok, true);
    assert.deepEqual(only.stages.sort(), ['greet', 'upper']);
    assert.ok(!only.checks.some((c) => c.stage === 'noisy'));

    // A longer name moves greet's metric by 0.05 (tolerance 0.015) and changes its key; a new
    // stage has no lock entry yet.
    await ws.write('pipelines/v.yaml', PIPELINE('tailor-made') + `  extra:\n    cmd: "echo x > \${out}/x"\n`);
    const r = await ws.tailor(['verify', 'pipelines/v.yaml', '--stage', 'greet', '--stage', 'extra', '--json']);
    assert.equal(r.code, 1, r.stderr);
    const parsed = JSON.parse(r.stdout) as VerifyJson;
    const find = (stage: string, check: string) => parsed.checks.find((c) => c.stage === stage && c.check === check);
    assert.equal(find('greet', 'key')?.note, 'param name: tailor -> tailor-made');
    const metric = find('greet', 'metric holdout.micro_f1');
    assert.equal(metric?.verdict, 'mismatch');
    assert.equal(Number(metric?.expected), 0.63);
    assert.ok(Math.abs(Number(metric?.got) - 0.68) < 1e-12);
    assert.match(metric?.note ?? '', /> 0\.015/);
    assert.equal(find('greet', 'metric chars')?.verdict, 'mismatch');
    assert.equal(find('extra', 'lock')?.verdict, 'missing');

    await ws.write('pipelines/other.yaml', `stages:\n  s:\n    cmd: "true"\n`);
    const none = await ws.tailor(['verify', 'pipelines/other.yaml']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no lock file pipelines\/other\.lock\.json/);
  } finally {
    await ws.dispose();
  }
});
