/**
 * ensemble-pso -> threshold -> submit inside a real pipeline, through the real CLI: the
 * submission is exported, and changing only a threshold param reruns only threshold and submit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO, Workspace, withAction } from './helpers/rig.js';
import { parseSubmission } from '../src/formats/submission.js';

const SYNTH = join(REPO, 'test', 'fixtures', 'ensemble', 'synthetic-stage.ts');

const PIPELINE = `
stages:
  split:
    uses: ${JSON.stringify(SYNTH)}
    params: { role: split }
  model-a:
    uses: ${JSON.stringify(SYNTH)}
    params: { role: model, model: 0 }
  model-b:
    uses: ${JSON.stringify(SYNTH)}
    params: { role: model, model: 1 }
  model-c:
    uses: ${JSON.stringify(SYNTH)}
    params: { role: model, model: 2 }
  ensemble-pso:
    uses: ensemble-pso
    needs: [split, model-a, model-b, model-c]
    params: { swarm_size: 8, iterations: 5 }
  threshold:
    uses: threshold
    needs: [split, ensemble-pso]
    params: { min_support: 10 }
  submit:
    uses: submit
    needs: [split, ensemble-pso, threshold]
    export: { submission.csv: outputs/submission.csv }
`;

test('pipeline: submission exported; a threshold param change reruns only threshold and submit', async () => {
  const ws = await Workspace.create('tailor-ens-pipe-');
  try {
    await ws.write('pipelines/ens.yaml', PIPELINE);
    const first = await ws.run(['pipelines/ens.yaml']);
    assert.equal(first.code, 0, first.result.stderr + first.result.stdout);
    assert.deepEqual(withAction(first.actions, 'ran'), [
      'ensemble-pso',
      'model-a',
      'model-b',
      'model-c',
      'split',
      'submit',
      'threshold',
    ]);
    const rows = parseSubmission(await ws.read('outputs/submission.csv'));
    assert.equal(rows.length, 40);
    assert.deepEqual(
      rows.map((r) => Number(r.imageId)),
      [...rows.map((r) => Number(r.imageId))].sort((a, b) => a - b),
    );

    const show = await ws.tailor(['show', 'pipelines/ens.yaml', 'threshold', '--json']);
    const metrics = (
      JSON.parse(show.stdout) as { metrics: { validation: { micro_f1: number }; holdout: { micro_f1: number } } }
    ).metrics;
    assert.ok(metrics.validation.micro_f1 > 0 && metrics.holdout.micro_f1 > 0);

    const changed = await ws.run(['pipelines/ens.yaml', '--set', 'threshold.at_least_one=true']);
    assert.equal(changed.code, 0, changed.result.stderr);
    assert.deepEqual(withAction(changed.actions, 'ran'), ['submit', 'threshold']);
    assert.deepEqual(withAction(changed.actions, 'cached'), ['ensemble-pso', 'model-a', 'model-b', 'model-c', 'split']);
    const after = parseSubmission(await ws.read('outputs/submission.csv'));
    assert.ok(
      after.every((r) => r.labels.length > 0),
      'at_least_one leaves no empty row',
    );

    const again = await ws.run(['pipelines/ens.yaml', '--set', 'threshold.at_least_one=true']);
    assert.deepEqual(withAction(again.actions, 'ran'), []);
  } finally {
    await ws.dispose();
  }
});
