/** fine-tune-backbone's run (the definition and params: ../fine-tune-backbone.ts), phase by phase. */
import type { StageContext } from '../../src/stage-api.js';
import { readLabelList } from '../../src/formats/manifest.js';
import { gpuNotice, useBackend } from '../../src/ml/backend.js';
import { backboneSpec, modelCacheDir, workerCount } from '../../src/ml/backbone-spec.js';
import { loadBackbone } from '../../src/ml/backbones.js';
import { removeCheckpoint } from '../../src/ml/checkpoint.js';
import { uploadWeights } from '../../src/ml/graph-infer.js';
import { checkpointFolder, epochLine } from '../../src/ml/head-training.js';
import { findImageInputs } from '../../src/ml/image-inputs.js';
import { cacheActivations } from '../../src/ml/fine-tune/activations.js';
import { fineTuneKeys } from '../../src/ml/fine-tune/checkpoint-keys.js';
import { trainHeadPhase } from '../../src/ml/fine-tune/head-phase.js';
import { fineTuneMetrics, writeFineTuneOutputs } from '../../src/ml/fine-tune/outputs.js';
import { planFineTune } from '../../src/ml/fine-tune/plan.js';
import { ROUTES } from '../../src/ml/fine-tune/routes.js';
import { loadCutRows, truthOf } from '../../src/ml/fine-tune/rows.js';
import { TunedNetwork, trainTailPhase } from '../../src/ml/fine-tune/tail-phase.js';
import type { TrainResult } from '../../src/ml/trainer.js';
import type { FineTuneParams } from '../fine-tune-backbone.js';

export default async function fineTuneBackbone(ctx: StageContext<FineTuneParams>): Promise<void> {
  const started = Date.now();
  const p = ctx.params;
  const { splitDir, imagesDir } = findImageInputs(ctx.needs, p);
  const labels = await readLabelList(splitDir);
  const backend = await useBackend(p.backend);
  const { tf } = backend;
  const notice = gpuNotice(backend);
  if (notice) ctx.log(notice);
  const spec = backboneSpec({ ...p, batch_size: p.extract_batch_size }, ctx.workdir, ctx.seed);
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
    if (plan.tail.trainable.length < p.unfreeze)
      ctx.log(`the trunk has ${plan.tail.trainable.length} weight layers: all of them train`);
    ctx.log(
      `fine-tune ${backbone.name} on ${backend.name}: route ${plan.route} (${plan.flavour} ops), training ${plan.tail.trainable.length} layer(s) [${plan.tail.trainable.join(', ')}] after ${plan.tail.cut}; activations cached at ${plan.cacheAt}`,
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
    });
    const weights = uploadWeights(tf, graph.nodes);
    cleanup.push(() => weights.dispose());
    let data;
    try {
      data = loadCutRows(tf, plan, weights, acts, flip === 'both' ? 2 : 1);
    } finally {
      acts.cache.close();
    }
    const yTrain = truthOf(acts, 'train', labels);
    const yVal = truthOf(acts, 'validation', labels);
    const keys = fineTuneKeys(ctx.codeKey, p, { seed: ctx.seed, labels, backboneId: backbone.id }, plan, acts);
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
      plan,
      weights,
      data,
      acts,
      yTrain,
      yVal,
      checkpointDir: await checkpointFolder(ctx, `fine-tune-head-${keys.head}`),
      ...phaseOpts,
    });
    cleanup.push(() => head.head.dispose());
    const hs = head.scores;
    ctx.log(
      `head on the frozen trunk: validation micro-F1 ${hs.validation.micro_f1.toFixed(4)}${hs.holdout ? `, holdout ${hs.holdout.micro_f1.toFixed(4)}` : ''}`,
    );

    const net = new TunedNetwork(tf, plan, head.head);
    cleanup.push(() => net.dispose());
    let tune: TrainResult | undefined;
    if (p.fine_tune_epochs > 0) {
      const batches = ROUTES[plan.route]({
        tf,
        plan,
        weights,
        train: data.train,
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
        labels: labels.length,
        train: data.train,
        validation: data.validation,
        yTrain,
        yVal,
        history: head.result.history,
        checkpointDir: tuneDir,
        ...phaseOpts,
      });
    }

    const history = tune?.history ?? head.result.history;
    const metrics = await writeFineTuneOutputs(tf, ctx.out, { labels, net, head, data, acts, plan, backbone, history });
    await removeCheckpoint(tuneDir);
    ctx.metrics({
      ...metrics,
      fine_tune: fineTuneMetrics({
        backend: backend.name,
        plan,
        head,
        tune,
        history,
        acts,
        seconds: (Date.now() - started) / 1000,
      }),
    });
    const v = metrics.validation as { micro_f1: number };
    const ho = metrics.holdout as { micro_f1: number } | undefined;
    ctx.log(
      `after fine-tuning: validation micro-F1 ${v.micro_f1.toFixed(4)}${ho ? `, holdout ${ho.micro_f1.toFixed(4)}` : ''} at 0.5`,
    );
  } finally {
    for (const f of cleanup.reverse()) f();
  }
}
