/**
 * Out-of-fold fits in a real pipeline through the real CLI: fetch from a loopback server -> pad ->
 * split (folds: 3) -> precompute (tiny backbone) -> two train-heads with oof: true -> ensemble-pso
 * and threshold with fit_on: both -> submit. The heads' out-of-fold predictions cover every
 * usable training image exactly once, by a model whose fold held it; the tables carry a row per
 * fit with its holdout interval; with split's folds off, train-head fails naming the param.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, Workspace } from './helpers/rig.js';
import { loadPipeline } from '../src/pipeline/load.js';
import { startFaultServer, type FaultServer } from './fixtures/data/fault-server.js';
import { distinctJpegs, writeImFile } from './fixtures/data/images.js';
import { readJsonlAll } from '../src/formats/jsonl.js';
import type { ManifestEntry } from '../src/formats/manifest.js';
import { readPredictions } from '../src/formats/predictions.js';
import { parseSubmission } from '../src/formats/submission.js';
import { mulberry32 } from '../src/random.js';

let server: FaultServer;
let ws: Workspace;
let testIds: string[];
const SHARE: Record<string, number> = { '1': 0.7, '2': 0.5, '3': 0.35, '4': 0.25 };

async function writeSet(file: string, first: number, n: number, annotated: boolean): Promise<string[]> {
  const rand = mulberry32(first);
  const images = Array.from({ length: n }, (_, i) => ({
    imageId: String(first + i),
    url: i < 2 ? `${server.url}/status/404/${first + i}.jpg` : `${server.url}/img/${i % 12}.jpg`,
  }));
  const annotations = images.map((im) => ({
    imageId: im.imageId,
    labelId: Object.keys(SHARE).filter((l) => rand() < (SHARE[l] as number)),
  }));
  await writeImFile(ws.path(file), { images, annotations: annotated ? annotations : undefined });
  return images.map((im) => im.imageId);
}

function pipeline(folds: number): string {
  const head = `
    uses: train-head
    needs: [precompute, split]
    params: { hidden: [16], epochs: 3, batch_size: 16, oof: true }`;
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
    params: { from: pad, min_label_count: 3, colour_baseline_images: 0, folds: ${folds} }
  precompute:
    uses: precompute
    needs: [pad, split]
    params: { backbone: tiny, images: pad, workers: 0 }
  head-a:${head}
  head-b:${head.replace('hidden: [16]', 'hidden: [8], loss: bce')}
  ensemble-pso:
    uses: ensemble-pso
    needs: [split, head-a, head-b]
    params: { swarm_size: 4, iterations: 2, fit_on: both }
  threshold:
    uses: threshold
    needs: [split, ensemble-pso]
    params: { fit_on: both }
  submit:
    uses: submit
    needs: [split, ensemble-pso, threshold]
    params: { failed: priors }
    export: { submission.csv: outputs/submission.csv }
`;
}

before(async () => {
  server = await startFaultServer({ images: await distinctJpegs(12) });
  ws = await Workspace.create('tailor-oof-');
  await mkdir(ws.path('pipelines'));
  await mkdir(ws.path('data'));
  await writeSet('data/train.json', 1000, 60, true);
  await writeSet('data/validation.json', 2000, 30, true);
  testIds = await writeSet('data/test.json', 3000, 9, false);
});

after(async () => {
  await server.close();
  await ws.dispose();
});

const outOf = async (stage: string): Promise<string> =>
  (JSON.parse((await ws.tailor(['show', 'pipelines/oof.yaml', stage, '--json'])).stdout) as { out: string }).out;
const metricsOf = async <T>(stage: string): Promise<T> =>
  (JSON.parse((await ws.tailor(['show', 'pipelines/oof.yaml', stage, '--json'])).stdout) as { metrics: T }).metrics;

test('oof heads, ensemble-pso and threshold fitted both ways: every training image once, rows per fit', async () => {
  await ws.write('pipelines/oof.yaml', pipeline(3));
  const r = await ws.run(['pipelines/oof.yaml']);
  assert.equal(r.code, 0, r.result.stderr + r.result.stdout);

  const split = await outOf('split');
  const train = (await readJsonlAll<ManifestEntry>(join(split, 'train.jsonl'))).map((e) => e.imageId);
  const foldOf = new Map<string, number>();
  for (let f = 0; f < 3; f++)
    for (const e of await readJsonlAll<ManifestEntry>(join(split, 'folds', `fold-${f}.jsonl`)))
      foldOf.set(e.imageId, f);
  assert.deepEqual([...foldOf.keys()].sort(), [...train].sort(), 'the folds partition train');
  for (const head of ['head-a', 'head-b']) {
    const oof = (await readPredictions(await outOf(head))).splits.oof;
    assert.ok(oof, `${head} wrote out-of-fold predictions`);
    assert.deepEqual([...oof.ids].sort(), [...train].sort(), `${head}: every training image exactly once`);
    const m = await metricsOf<{
      out_of_fold: { per_fold: Array<{ fold: number; trained: number; predicted: number }> };
    }>(head);
    for (const f of m.out_of_fold.per_fold) {
      const own = train.filter((id) => foldOf.get(id) === f.fold).length;
      assert.deepEqual([f.predicted, f.trained], [own, train.length - own], `${head} fold ${f.fold}`);
    }
  }

  const ens = await metricsOf<{ fit: string; methods: Record<string, { fit: string; holdout_ci: number[] }> }>(
    'ensemble-pso',
  );
  assert.equal(ens.fit, 'oof');
  assert.equal(ens.methods['pso@oof']?.fit, 'oof');
  assert.equal(ens.methods.pso?.fit, 'validation');
  const csv = await readFile(join(await outOf('threshold'), 'fits.csv'), 'utf8');
  assert.match(csv, /^per-label@oof,oof,/m);
  assert.match(csv, /^per-label,validation,/m);
  const rows = parseSubmission(await ws.read('outputs/submission.csv'));
  assert.deepEqual(rows.map((row) => row.imageId).sort(), [...testIds].sort());
});

test('oof: true when split writes no folds: train-head fails naming the param and what to set', async () => {
  await ws.write('pipelines/oof.yaml', pipeline(0));
  const r = await ws.run(['pipelines/oof.yaml']);
  assert.equal(r.code, 1, r.result.stdout);
  assert.match(
    r.result.stderr + r.result.stdout,
    /head-a[\s\S]*train-head: param oof is true, but split stage "split" wrote no folds[\s\S]*set that stage's param folds to 2 or more/,
  );
});

test('pipelines/fashion-tiny-oof.yaml: fashion-tiny with folds, oof heads and both fits, no fine-tune', () => {
  const r = loadPipeline(join(REPO, 'pipelines', 'fashion-tiny-oof.yaml'), { workdir: REPO, cacheDir: false });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  const by = new Map(r.value.stages.map((s) => [s.name, s]));
  assert.equal(by.has('fine-tune-backbone'), false);
  assert.equal(by.get('split')?.params.folds, 5);
  const head = by.get('train-head@mobilenet_v2');
  assert.equal(head?.params.oof, true);
  assert.deepEqual([...(head?.needs ?? [])].sort(), ['precompute@mobilenet_v2', 'split']);
  assert.deepEqual([...(by.get('ensemble-pso')?.needs ?? [])].sort(), ['split', 'train-head@mobilenet_v2']);
  for (const s of ['ensemble-pso', 'threshold']) assert.equal(by.get(s)?.params.fit_on, 'both');
});
