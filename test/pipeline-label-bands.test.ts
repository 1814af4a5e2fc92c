/**
 * The seed's frequency-split heads (its §4.4: one classifier on labels with at least 100,000
 * occurrences, one on the rest, predictions added) in a real pipeline through the real CLI: fetch
 * from a loopback server -> pad -> split -> precompute (tiny backbone) -> two train-heads on
 * disjoint frequency bands (min_count / max_count) -> ensemble-pso -> threshold -> submit. Each head
 * says which labels it predicts, the ensemble joins them (per label, the one head covering it), and
 * the submission has one row per test image.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, withAction } from './helpers/rig.js';
import { startFaultServer, type FaultServer } from './fixtures/data/fault-server.js';
import { distinctJpegs, writeImFile } from './fixtures/data/images.js';
import { parseSubmission } from '../src/formats/submission.js';
import { readPredictions } from '../src/formats/predictions.js';
import { mulberry32 } from '../src/random.js';

let server: FaultServer;
let ws: Workspace;
let testIds: string[];
/** Training images per label among the usable (not dead) train images. */
const trainCounts = new Map<string, number>();

/** Labels 1 and 2 are frequent, 3-5 rare: two clear frequency bands. */
const SHARE: Record<string, number> = { '1': 0.8, '2': 0.7, '3': 0.3, '4': 0.25, '5': 0.2 };
const DEAD = 3;

async function writeSet(file: string, first: number, n: number, annotated: boolean, count = false): Promise<string[]> {
  const rand = mulberry32(first);
  const images: Array<{ imageId: string; url: string }> = [];
  const annotations: Array<{ imageId: string; labelId: string[] }> = [];
  for (let i = 0; i < n; i++) {
    const imageId = String(first + i);
    const url = i < DEAD ? `${server.url}/status/404/${imageId}.jpg` : `${server.url}/img/${i % 12}.jpg`;
    images.push({ imageId, url });
    const labelId = Object.keys(SHARE).filter((l) => rand() < (SHARE[l] as number));
    annotations.push({ imageId, labelId });
    if (count && i >= DEAD) for (const l of labelId) trainCounts.set(l, (trainCounts.get(l) ?? 0) + 1);
  }
  await writeImFile(ws.path(file), { images, annotations: annotated ? annotations : undefined });
  return images.map((im) => im.imageId);
}

/** The pipeline, with the band boundary between the two frequency groups of this data. */
function pipeline(band: number): string {
  return `
stages:
  fetch:
    uses: fetch
    deps: [data/train.json, data/validation.json, data/test.json]
    params:
      { train: data/train.json, validation: data/validation.json, test: data/test.json, timeout_ms: 2000, retries: 0, max_failure_share: 0.5 }
  pad:
    uses: pad
    needs: [fetch]
    params: { from: fetch, size: 32 }
  split:
    uses: split
    needs: [pad]
    params: { from: pad, min_label_count: 3, colour_baseline_images: 0 }
  precompute:
    uses: precompute
    needs: [pad, split]
    params: { backbone: tiny, images: pad, workers: 0 }
  head-frequent:
    uses: train-head
    needs: [precompute]
    params: { hidden: [16], epochs: 3, batch_size: 16, min_count: ${band} }
  head-rare:
    uses: train-head
    needs: [precompute]
    params: { hidden: [16], epochs: 3, batch_size: 16, max_count: ${band - 1} }
  ensemble-pso:
    uses: ensemble-pso
    needs: [split, head-frequent, head-rare]
    params: { swarm_size: 4, iterations: 2 }
  threshold:
    uses: threshold
    needs: [split, ensemble-pso]
  submit:
    uses: submit
    needs: [split, ensemble-pso, threshold]
    params: { failed: priors }
    export: { submission.csv: outputs/submission.csv }
`;
}

before(async () => {
  server = await startFaultServer({ images: await distinctJpegs(12) });
  ws = await Workspace.create('tailor-bands-');
  await mkdir(ws.path('pipelines'));
  await mkdir(ws.path('data'));
  await writeSet('data/train.json', 1000, 60, true, true);
  await writeSet('data/validation.json', 2000, 30, true);
  testIds = await writeSet('data/test.json', 3000, 17, false);
});

after(async () => {
  await server.close();
  await ws.dispose();
});

interface HeadMetrics {
  labels: { predicted: number; of: number; subset: boolean; train_count_min: number; train_count_max: number };
}

test('two train-heads on disjoint frequency bands, joined by ensemble-pso: one submission row per test image', async () => {
  const frequent = ['1', '2'].map((l) => trainCounts.get(l) ?? 0);
  const rare = ['3', '4', '5'].map((l) => trainCounts.get(l) ?? 0);
  assert.ok(Math.min(...frequent) > Math.max(...rare) + 1, `bands overlap: ${frequent} vs ${rare}`);
  const band = Math.min(...frequent);
  await ws.write('pipelines/bands.yaml', pipeline(band));
  const r = await ws.run(['pipelines/bands.yaml']);
  assert.equal(r.code, 0, r.result.stderr + r.result.stdout);
  assert.deepEqual(withAction(r.actions, 'ran'), [
    'ensemble-pso',
    'fetch',
    'head-frequent',
    'head-rare',
    'pad',
    'precompute',
    'split',
    'submit',
    'threshold',
  ]);
  const show = async <T>(stage: string): Promise<T> =>
    (JSON.parse((await ws.tailor(['show', 'pipelines/bands.yaml', stage, '--json'])).stdout) as { metrics: T }).metrics;

  // Each head says which labels it predicts, in its predictions and its metrics.
  const outOf = async (stage: string): Promise<string> =>
    (JSON.parse((await ws.tailor(['show', 'pipelines/bands.yaml', stage, '--json'])).stdout) as { out: string }).out;
  const freqPreds = await readPredictions(await outOf('head-frequent'));
  const rarePreds = await readPredictions(await outOf('head-rare'));
  assert.deepEqual(freqPreds.labels, ['1', '2']);
  assert.deepEqual(rarePreds.labels, ['3', '4', '5']);
  const hf = await show<HeadMetrics>('head-frequent');
  assert.deepEqual(
    { ...hf.labels },
    { ...hf.labels, predicted: 2, of: 5, subset: true, train_count_min: band },
    JSON.stringify(hf.labels),
  );
  const hr = await show<HeadMetrics>('head-rare');
  assert.equal(hr.labels.predicted, 3);
  assert.equal(hr.labels.train_count_max, Math.max(...rare));

  // The ensemble predicts all five labels; where one head covers a label its probabilities are
  // taken as they are, whatever the weights (disjoint sets are joined).
  const ens = await readPredictions(await outOf('ensemble-pso'));
  assert.deepEqual(ens.labels, ['1', '2', '3', '4', '5']);
  const ev = ens.splits.validation;
  const fv = freqPreds.splits.validation;
  const rv = rarePreds.splits.validation;
  assert.ok(ev && fv && rv);
  const rowF = new Map(fv.ids.map((id, i) => [id, i]));
  const rowR = new Map(rv.ids.map((id, i) => [id, i]));
  let compared = 0;
  ev.ids.forEach((id, i) => {
    const f = rowF.get(id);
    const q = rowR.get(id);
    if (f === undefined || q === undefined) return; // a dead image, answered from priors
    for (let l = 0; l < 2; l++) assert.equal(ev.probs[i * 5 + l], fv.probs[f * 2 + l]);
    for (let l = 0; l < 3; l++) assert.equal(ev.probs[i * 5 + 2 + l], rv.probs[q * 3 + l]);
    compared++;
  });
  assert.ok(compared > 10, `${compared} validation rows compared`);
  const em = await show<{ labels: { predicted: number; per_model: Record<string, number> } }>('ensemble-pso');
  assert.deepEqual(em.labels.per_model, { 'head-frequent': 2, 'head-rare': 3 });
  assert.equal(em.labels.predicted, 5);
  const methods = (await readFile(join(await outOf('ensemble-pso'), 'methods.csv'), 'utf8')).trim().split('\n');
  assert.match(methods[0] as string, /,labels$/);
  assert.ok(
    methods.some((m) => m.startsWith('head-rare,model,') && m.endsWith(',3')),
    methods.join('\n'),
  );

  // Threshold and submit work on the joined matrix: one row per test image, dead ones included.
  const tm = await show<{ holdout: { micro_f1: number } }>('threshold');
  assert.ok(tm.holdout.micro_f1 > 0);
  const rows = parseSubmission(await ws.read('outputs/submission.csv'));
  assert.deepEqual(rows.map((row) => row.imageId).sort(), [...testIds].sort());
  const labelsUsed = new Set(rows.flatMap((row) => row.labels));
  for (const l of labelsUsed) assert.ok(['1', '2', '3', '4', '5'].includes(l));
});

test('a label subset no label passes is an error naming the counts', async () => {
  await ws.write('pipelines/bands.yaml', pipeline(100000));
  const r = await ws.run(['pipelines/bands.yaml']);
  assert.equal(r.code, 1, r.result.stdout);
  assert.match(r.result.stderr + r.result.stdout, /head-frequent[\s\S]*no label passes min_count 100000/);
});
