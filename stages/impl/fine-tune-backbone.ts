/** fine-tune-backbone's run (the definition and params: ../fine-tune-backbone.ts), phase by phase. */
import type { StageContext } from '../../src/stage-api.js';
import { readLabelList, type SplitName } from '../../src/formats/manifest.js';
import { gpuNotice, useBackend } from '../../src/ml/backend.js';
import { backboneSpec, modelCacheDir, workerCount } from '../../src/ml/backbone-spec.js';
import { describeBackbone, loadBackbone } from '../../src/ml/backbones.js';
import { removeCheckpoint } from '../../src/ml/checkpoint.js';
import { uploadWeights } from '../../src/ml/graph-infer.js';
import { checkpointFolder, epochLine } from '../../src/ml/head-training.js';
import { checkPaddedSize, findImageInputs } from '../../src/ml/image-inputs.js';
import { cacheActivations } from '../../src/ml/fine-tune/activations.js';
import { fineTuneKeys } from '../../src/ml/fine-tune/checkpoint-keys.js';
import { trainHeadPhase } from '../../src/ml/fine-tune/head-phase.js';
import { validationScale } from '../../src/ml/fine-tune/validation-scale.js';
import { fineTuneMetrics, versusHeadLine, writeFineTuneOutputs } from '../../src/ml/fine-tune/outputs.js';
import { planFineTune, type FineTunePlan } from '../../src/ml/fine-tune/plan.js';
import { ROUTES } from '../../src/ml/fine-tune/routes.js';
import {
  cachedHeadFeatures,
  cutHeadFeatures,
  loadCutRows,
  truthOf,
  type FineTuneData,
  type HeadFeatures,
} from '../../src/ml/fine-tune/rows.js';
import { TrunkFeeder, evaluateImages } from '../../src/ml/fine-tune/image-stream.js';
import { TunedNetwork, trainTailPhase } from '../../src/ml/fine-tune/tail-phase.js';
import type { TrainResult } from '../../src/ml/trainer.js';
import type { FineTuneParams } from '../fine-tune-backbone.js';

/** Training images whose activations at the cut (float16, every orientation) fit the cached route's budget. */
function cachedTrainCap(plan: FineTunePlan, flip: 'both' | 'none', mb: number): number {
  const cut = plan.graph.nodes.find((n) => n.id === plan.tail.cut)!;
  const bytes = cut.shape.reduce((a, b) => a * b, 1) * 2 * (flip === 'both' ? 2 : 1);
  return Math.max(1, Math.floor((mb * 1024 * 1024) / bytes));
}

export default async function fineTuneBackbone(ctx: StageContext<FineTuneParams>): Promise<void> {
  const started = Date.now();
  const p = ctx.params;
  const inputs = findImageInputs(ctx.needs, p);
  const { splitDir, imagesDir } = inputs;
  const labels = await readLabelList(splitDir);
  const spec = backboneSpec({ ...p, batch_size: p.extract_batch_size }, ctx.workdir, ctx.seed);
  await checkPaddedSize(inputs, await describeBackbone(spec));
  const backend = await useBackend(p.backend);
  const { tf } = backend;
  const notice = gpuNotice(backend);
  if (notice) ctx.log(notice);
  const cacheDir = await modelCacheDir(ctx);
  const backbone = await loadBackbone(tf, spec, { cacheDir, log: ctx.log });
  // Tensors and variables to release however the run ends (an abort included).
  const cleanup: Array<() => void> = [() => backbone.dispose()];
  try {
    const graph = backbone.graph;
    if (!graph)
      throw new Error(
        `backbone ${backbone.name} cannot be folded into trainable layers (mobilenet_v2_mid is a graph model): use mobilenet_v2, inception_v3, tiny or a Keras model with standard layers`,
      );
    const plan = planFineTune(graph, p, backend.name);
    ctx.log(
      `fine-tune ${backbone.name} on ${backend.name}: route ${plan.route} (${plan.flavour} ops), last ${p.unfreeze} layer(s) as Keras counts them: ${plan.tail.trainable.length} weight node(s) train [${plan.tail.trainable.join(', ')}] after ${plan.tail.cut}; ${plan.route === 'cached' ? `activations cached at ${plan.cacheAt}` : 'pooled features cached for the head phase'}`,
    );

    const flip = p.augment ? 'both' : 'none';
    const acts = await cacheActivations({
      ctx,
      backend: p.backend,
      spec,
      backboneId: backbone.id,
      modelCacheDir: cacheDir,
      plan,
      flip,
      batchSize: p.extract_batch_size,
      workers: workerCount({ ...p, batch_size: p.extract_batch_size }, p.backend),
      splitDir,
      imagesDir,
      maxTrain: plan.route === 'cached' ? cachedTrainCap(plan, flip, p.cached_memory_mb) : 0,
      seed: ctx.seed,
    });
    const weights = uploadWeights(tf, graph.nodes);
    cleanup.push(() => weights.dispose());
    const rowsPer = flip === 'both' ? 2 : 1;
    // cached: every split's rows at the cut in memory (float16). images: nothing per image but the
    // pooled features the head trains on; the tail's input streams from the image files.
    let data: FineTuneData | undefined;
    let features: HeadFeatures;
    let cacheOpen = true;
    const closeCache = (): void => {
      if (cacheOpen) acts.cache.close();
      cacheOpen = false;
    };
    cleanup.push(closeCache);
    if (plan.route === 'cached') {
      data = loadCutRows(tf, plan, weights, acts, rowsPer);
      features = cutHeadFeatures(tf, plan, weights, data);
    } else {
      features = cachedHeadFeatures(acts, plan, rowsPer);
    }
    const yTrain = truthOf(acts, 'train', labels);
    const yVal = truthOf(acts, 'validation', labels);
    if (!yTrain.length) throw new Error('no training images with activations');
    if (!yVal.length) throw new Error('no validation images with activations (needed for early stopping)');
    const validation = await validationScale(splitDir, acts, labels);
    const keys = fineTuneKeys(
      ctx.codeKey,
      p,
      { seed: ctx.seed, labels, backboneId: backbone.id, validation },
      plan,
      acts,
    );
    const tuneDir = await checkpointFolder(ctx, `fine-tune-tail-${keys.tune}`);
    const phaseOpts = {
      signal: ctx.signal,
      log: ctx.log,
      onEpoch: (r: Parameters<typeof epochLine>[0]) => ctx.log(epochLine(r)),
    };

    const head = await trainHeadPhase({
      tf,
      p,
      seed: ctx.seed,
      labels,
      features,
      acts,
      yTrain,
      yVal,
      validationScale: validation,
      checkpointDir: await checkpointFolder(ctx, `fine-tune-head-${keys.head}`),
      splitDir,
      ...phaseOpts,
    });
    if (!data) closeCache();
    cleanup.push(() => head.head.dispose());
    const hs = head.scores;
    ctx.log(
      `head on the frozen trunk: validation micro-F1 ${hs.validation.micro_f1.toFixed(4)}${hs.holdout ? `, holdout ${hs.holdout.micro_f1.toFixed(4)}` : ''}`,
    );

    const net = new TunedNetwork(tf, plan, head.head);
    cleanup.push(() => net.dispose());
    const feeder = new TrunkFeeder(tf, plan, weights, backbone);
    const L = labels.length;
    const scoreSplit = async (
      s: SplitName,
      y?: Uint8Array,
    ): Promise<{ loss: number; probs: Float32Array } | undefined> => {
      if (data) {
        const src = s === 'train' ? undefined : data[s];
        return src && net.evaluateSource(src, L, head.loss, y);
      }
      const list = acts.images[s];
      return (
        list &&
        evaluateImages(
          tf,
          net,
          feeder,
          list.map((i) => i.path),
          L,
          head.loss,
          y,
          p.fine_tune_batch_size,
        )
      );
    };
    let tune: TrainResult | undefined;
    if (p.fine_tune_epochs > 0) {
      const batches = ROUTES[plan.route]({
        tf,
        plan,
        weights,
        train: data?.train,
        trainImages: acts.images.train ?? [],
        backbone,
        augment: p.augment,
        crop: p.crop,
      });
      tune = await trainTailPhase({
        tf,
        p,
        seed: ctx.seed,
        net,
        batches,
        loss: head.loss,
        labels: L,
        nTrain: yTrain.length / L,
        scoreValidation: async () => (await scoreSplit('validation', yVal))!,
        yTrain,
        yVal,
        validationScale: validation,
        history: head.result.history,
        checkpointDir: tuneDir,
        ...phaseOpts,
      });
    }

    const history = tune?.history ?? head.result.history;
    const metrics = await writeFineTuneOutputs(tf, ctx.out, {
      labels,
      net,
      probsOf: async (s) => (await scoreSplit(s))?.probs,
      acts,
      plan,
      backbone,
      history,
      splitDir,
      log: ctx.log,
    });
    await removeCheckpoint(tuneDir);
    const v = metrics.validation as { micro_f1: number };
    const ho = metrics.holdout as { micro_f1: number } | undefined;
    ctx.metrics({
      ...metrics,
      fine_tune: fineTuneMetrics({
        backend: backend.name,
        plan,
        unfreeze: p.unfreeze,
        head,
        tune,
        tuned: { validation: v.micro_f1, holdout: ho?.micro_f1 ?? null },
        history,
        acts,
        seconds: (Date.now() - started) / 1000,
      }),
    });
    ctx.log(
      `after fine-tuning: validation micro-F1 ${v.micro_f1.toFixed(4)}${ho ? `, holdout ${ho.micro_f1.toFixed(4)}` : ''} at 0.5`,
    );
    ctx.log(versusHeadLine(hs.validation.micro_f1, v.micro_f1, tune));
  } finally {
    for (const f of cleanup.reverse()) f();
  }
}
