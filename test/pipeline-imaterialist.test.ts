/**
 * pipelines/imaterialist.yaml as a new user runs it: real iMaterialist JSON files pointed at by
 * `--set vars.*` only, images behind a loopback HTTP server (some dead), through the real CLI.
 * The submission has exactly one row per image of the test file, failed downloads included; two
 * pad sizes feed two backbones from one split; a backbone whose size is not its pad's is an error
 * naming the stage and the param. Tiny backbones stand in for MobileNetV2 and InceptionV3 (same
 * wiring, seconds instead of minutes).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, Workspace, withAction } from './helpers/rig.js';
import { startFaultServer, type FaultServer } from './fixtures/data/fault-server.js';
import { distinctJpegs, writeImFile } from './fixtures/data/images.js';
import { parseSubmission } from '../src/formats/submission.js';
import { mulberry32 } from '../src/random.js';

let server: FaultServer;
let ws: Workspace;
/** Unique image ids of the test file, in file order. */
let testIds: string[];

const LABELS = ['1', '2', '3', '4', '5'];

/** An iMaterialist file of `n` images from id `first`; `dead` of them answer 404. */
async function writeSet(file: string, first: number, n: number, dead: number, annotated: boolean): Promise<string[]> {
  const rand = mulberry32(first);
  const images: Array<{ imageId: string; url: string }> = [];
  const annotations: Array<{ imageId: string; labelId: string[] }> = [];
  for (let i = 0; i < n; i++) {
    const imageId = String(first + i);
    const url = i < dead ? `${server.url}/status/404/${imageId}.jpg` : `${server.url}/img/${i % 12}.jpg`;
    images.push({ imageId, url });
    annotations.push({ imageId, labelId: LABELS.filter(() => rand() < 0.4) });
  }
  await writeImFile(ws.path(file), { images, annotations: annotated ? annotations : undefined });
  return images.map((im) => im.imageId);
}

/** --set arguments: data files, tiny backbones at 32 and 40 px, short training. */
function sets(extra: string[] = []): string[] {
  return [
    ...['vars.train=data/train.json', 'vars.validation=data/validation.json', 'vars.test=data/test.json'],
    'vars.min_label_count=3',
    'vars.sizes=[32, 40]',
    'vars.backbones=[{name: small, backbone: tiny, size: 32}, {name: large, backbone: tiny, size: 40}]',
    'vars.fine_tune={backbone: tiny, size: 32}',
    'precompute@large.input_size=40',
    'precompute.workers=0',
    'train-head.epochs=3',
    'train-head.hidden=[16]',
    'fine-tune-backbone.workers=0',
    'fine-tune-backbone.epochs=2',
    'fine-tune-backbone.fine_tune_epochs=1',
    'fine-tune-backbone.route=cached',
    'fine-tune-backbone.hidden=[16]',
    'ensemble-pso.iterations=2',
    'ensemble-pso.swarm_size=4',
    'fetch.timeout_ms=2000',
    'fetch.retries=0',
    'fetch.max_failure_share=0.5',
    ...extra,
  ].flatMap((s) => ['--set', s]);
}

before(async () => {
  server = await startFaultServer({ images: await distinctJpegs(12) });
  ws = await Workspace.create('tailor-imat-');
  await mkdir(ws.path('pipelines'));
  await copyFile(join(REPO, 'pipelines', 'imaterialist.yaml'), ws.path('pipelines', 'imaterialist.yaml'));
  await mkdir(ws.path('data'));
  await writeSet('data/train.json', 1000, 60, 3, true);
  await writeSet('data/validation.json', 2000, 30, 3, true);
  testIds = await writeSet('data/test.json', 3000, 17, 4, false);
});

after(async () => {
  await server.close();
  await ws.dispose();
});

test('vars alone point the pipeline at new files: one submission row per test image, dead ones included', async () => {
  const r = await ws.run(['pipelines/imaterialist.yaml', ...sets()]);
  assert.equal(r.code, 0, r.result.stderr + r.result.stdout);
  assert.deepEqual(withAction(r.actions, 'ran'), [
    'ensemble-pso',
    'fetch',
    'fine-tune-backbone',
    'pad@32',
    'pad@40',
    'precompute@large',
    'precompute@small',
    'split',
    'submit',
    'threshold',
    'train-head@large',
    'train-head@small',
  ]);
  const rows = parseSubmission(await ws.read('outputs/submission.csv'));
  assert.deepEqual(rows.map((row) => row.imageId).sort(), [...testIds].sort());
  const show = await ws.tailor(['show', 'pipelines/imaterialist.yaml', 'submit', '--json', ...sets()]);
  const m = (JSON.parse(show.stdout) as { metrics: { submission: { failed_rows: number; rows: number } } }).metrics;
  assert.equal(m.submission.rows, 17);
  assert.equal(m.submission.failed_rows, 4);
  // Both backbones found every usable image in their own pad's folder (pad@40 named them as pad@32
  // did); only the 4 dead test images have no features.
  for (const stage of ['precompute@small', 'precompute@large']) {
    const pre = await ws.tailor(['show', 'pipelines/imaterialist.yaml', stage, '--json', ...sets()]);
    const got = (JSON.parse(pre.stdout) as { metrics: { precompute: { rows: number; missing: number } } }).metrics;
    assert.equal(got.precompute.missing, 4, `${stage}: ${pre.stdout}`);
    assert.equal(got.precompute.rows, 60 - 3 + 30 - 3 + 17 - 4, `${stage}: ${pre.stdout}`);
  }
});

test('a backbone whose input size is not its pad size fails, naming the stage and the param', async () => {
  const r = await ws.run(['pipelines/imaterialist.yaml', ...sets(['precompute@large.input_size=32'])]);
  assert.equal(r.code, 1, r.result.stdout);
  const text = r.result.stderr + r.result.stdout;
  assert.match(text, /precompute@large/);
  assert.match(text, /param backbone: tiny takes 32x32 images, but "pad@40" pads to 40 \(its param size\)/);
});

interface ScoredMetrics {
  images: number;
  failed_images: number;
  micro_f1: number;
  ci_low: number;
  ci_high: number;
}
interface StageMetrics {
  images?: { validation_failed: number; holdout_failed: number };
  colour_baseline?: { holdout_micro_f1: number; train_images: number; unreadable: number };
  validation?: ScoredMetrics;
  holdout?: ScoredMetrics;
  comparisons?: Array<{ verdict: string }>;
  margins?: { over_colour_baseline: number | null; over_frequency_baseline: number | null };
}

test('the 3 dead validation images are scored as submit answers them, with intervals and paired comparisons', async () => {
  const metricsOf = async (stage: string): Promise<StageMetrics> => {
    const r = await ws.tailor(['show', 'pipelines/imaterialist.yaml', stage, '--json', ...sets()]);
    return (JSON.parse(r.stdout) as { metrics: StageMetrics }).metrics;
  };
  const splitMetrics = await metricsOf('split');
  const split = splitMetrics.images;
  assert.ok(split);
  assert.equal(split.validation_failed + split.holdout_failed, 3);
  // The no-CNN baseline read the 12 distinct pictures (none unreadable) and scored like the others.
  const colour = splitMetrics.colour_baseline;
  assert.ok(colour && colour.unreadable === 0 && colour.train_images === 57, JSON.stringify(colour));
  assert.ok(colour.holdout_micro_f1 > 0 && colour.holdout_micro_f1 <= 1);
  for (const stage of ['ensemble-pso', 'threshold']) {
    const { validation, holdout, comparisons, margins } = await metricsOf(stage);
    assert.ok(validation && holdout && comparisons && margins, stage);
    // Margins over both of split's baselines, on the same holdout images.
    const colourHoldout = colour.holdout_micro_f1;
    assert.ok(margins.over_colour_baseline !== null && margins.over_frequency_baseline !== null, stage);
    assert.ok(Math.abs(margins.over_colour_baseline - (holdout.micro_f1 - colourHoldout)) < 1e-5, stage);
    const m = { validation, holdout, comparisons };
    assert.equal(m.validation.failed_images + m.holdout.failed_images, 3, stage);
    assert.equal(m.validation.images + m.holdout.images, 30, `${stage}: every validation image is scored`);
    assert.ok(m.holdout.ci_low <= m.holdout.micro_f1 && m.holdout.micro_f1 <= m.holdout.ci_high, stage);
    assert.ok(m.comparisons.length >= 1, stage);
    for (const c of m.comparisons) assert.match(c.verdict, /^(tie|.+ better)$/);
  }
});
