/**
 * fine-tune-backbone: as the reference — a new head trained on the frozen backbone until it
 * converges, then the last N layers of the backbone unfrozen and trained with the head at a low
 * learning rate, with train-head's callbacks (plateau LR, early stopping, checkpoints) and outputs.
 *
 * Routes (measured seconds per epoch are in metrics.json):
 *  - `cached` (default without a native backend): the trunk's activations at the start of the last
 *    resolution stage are computed once per image (and its mirror, for flip augmentation), cached in
 *    ctx.state by image hash — reused when N or the learning rates change — and only the tail trains,
 *    with ops that have fast gradients on wasm (1x1 convs as matmuls, depthwise as shifted adds).
 *  - `images` (default on tfjs-node/-gpu): every step decodes its images, mirrors and shifts them
 *    (flip/crop augmentation), runs the frozen trunk and trains the tail: end to end on the pixels.
 * The saved model is the whole network (images in, probabilities out) as a LayersModel.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { defineStage } from '../src/stage-api.js';
import type { SplitName } from '../src/formats/manifest.js';
import type { Tensor } from '@tensorflow/tfjs';
import { BACKEND_PARAM, type BackendChoice } from '../src/ml/backend.js';
import {
  BACKBONE_PARAMS,
  IMAGE_INPUT_PARAMS,
  MULTISCALE_PARAM,
  type BackboneParams,
} from '../src/ml/backbone-params.js';
import { HEAD_PARAMS, scheduleOf, type HeadParams } from '../src/ml/head-params.js';

interface Params extends HeadParams, Omit<BackboneParams, 'batch_size'> {
  unfreeze: number;
  fine_tune_lr: number;
  fine_tune_epochs: number;
  fine_tune_patience: number;
  fine_tune_batch_size: number;
  extract_batch_size: number;
  augment: boolean;
  crop: number;
  multiscale: boolean;
  route: 'auto' | 'cached' | 'images';
  backend: BackendChoice;
  split?: string;
  images?: string;
}

const CHECKPOINT_VERSION = 1;
const { batch_size: _extractBatch, ...backboneParams } = BACKBONE_PARAMS;

export default defineStage<Params>({
  description:
    'head on the frozen backbone, then its last N layers unfrozen at a low learning rate; predictions for validation/holdout/test',
  deterministic: true,
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...backboneParams,
      ...HEAD_PARAMS,
      unfreeze: {
        type: 'integer',
        minimum: 1,
        maximum: 1000,
        default: 1,
        description: 'weight layers (conv, depthwise conv) of the backbone to train, counted from its end',
      },
      fine_tune_lr: {
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        default: 0.00001,
        description: 'learning rate of the fine-tuning phase',
      },
      fine_tune_epochs: {
        type: 'integer',
        minimum: 0,
        maximum: 1000,
        default: 8,
        description: 'most epochs of the fine-tuning phase (0: head only)',
      },
      fine_tune_patience: {
        type: 'integer',
        minimum: 1,
        default: 3,
        description: 'early stopping of the fine-tuning phase',
      },
      fine_tune_batch_size: { type: 'integer', minimum: 1, maximum: 4096, default: 32 },
      extract_batch_size: {
        type: 'integer',
        minimum: 1,
        maximum: 512,
        default: 8,
        description: 'images per forward pass when caching activations',
      },
      augment: {
        type: 'boolean',
        default: true,
        description: 'horizontal flips (both routes) and random shifts (images route)',
      },
      crop: {
        type: 'integer',
        minimum: 0,
        maximum: 256,
        default: 16,
        description: 'images route: largest random shift in px',
      },
      multiscale: MULTISCALE_PARAM,
      route: {
        type: 'string',
        enum: ['auto', 'cached', 'images'],
        default: 'auto',
        description: 'auto: images on tfjs-node(-gpu), cached otherwise',
      },
      backend: BACKEND_PARAM,
      ...IMAGE_INPUT_PARAMS,
    },
  },
  async run(ctx) {
    const started = Date.now();
    const p = ctx.params;
    const { readFile } = await import('node:fs/promises');
    const { resolveImageInputs, presentSplits } = await import('../src/ml/stage-inputs.js');
    const { readLabelList, truthMatrix } = await import('../src/ml/label-matrix.js');
    const { useBackend, gpuNotice } = await import('../src/ml/backend.js');
    const { backboneSpec, modelCacheDir, workerCount } = await import('../src/ml/backbone-params.js');
    const { loadBackbone } = await import('../src/ml/backbones.js');
    const { planTail, cachePoint, stageEnds, Tail } = await import('../src/ml/graph-train.js');
    const { uploadWeights, evaluate } = await import('../src/ml/graph-infer.js');
    const { FeatureStore } = await import('../src/ml/feature-store.js');
    const { FeaturePool } = await import('../src/ml/feature-pool.js');
    const { Extractor } = await import('../src/ml/extractor.js');
    const { scanSplitImages } = await import('../src/ml/scan-images.js');
    const { rowsFromStore, advanceToCut, originalRows, rowTensors } = await import('../src/ml/cut-data.js');
    const { FeatureMatrix } = await import('../src/ml/feature-shards.js');
    const { DenseHead, priorLogits, fitStandardizer } = await import('../src/ml/dense-head.js');
    const { positiveWeights, lossOf } = await import('../src/ml/losses.js');
    const { evaluateHead, headStepLoss, predictHead, gatherLabels } = await import('../src/ml/head-task.js');
    const { microF1AtThreshold } = await import('../src/ml/metrics.js');
    const { train } = await import('../src/ml/trainer.js');
    const { checkpointDir, removeCheckpoint } = await import('../src/ml/checkpoint.js');
    const { writeModelOutputs, score } = await import('../src/ml/model-report.js');
    const { dirSaveHandler } = await import('../src/ml/model-io.js');
    const { graphToLayersModel } = await import('../src/ml/graph-layers.js');
    const { decodeRgb, preprocessInto } = await import('../src/ml/image-input.js');
    const { augmentRgb } = await import('../src/ml/augment.js');
    const { mulberry32, hashSeed } = await import('../src/random.js');

    // --- inputs, backend, backbone, plan -------------------------------------------------------
    const { splitDir, imagesDir } = resolveImageInputs(ctx.needs, p);
    const labels = await readLabelList(splitDir);
    const L = labels.length;
    const backend = await useBackend(p.backend);
    const { tf } = backend;
    const notice = gpuNotice(backend);
    if (notice) ctx.log(notice);
    const spec = backboneSpec({ ...p, batch_size: p.extract_batch_size }, ctx.workdir, ctx.seed);
    const cacheDir = modelCacheDir(ctx.state);
    const backbone = await loadBackbone(tf, spec, { cacheDir, log: ctx.log });
    // Tensors and variables to release however the run ends (an abort included).
    const cleanup: Array<() => void> = [() => backbone.dispose()];
    try {
      const graph = backbone.graph;
      if (!graph)
        throw new Error(
          `backbone ${backbone.name} cannot be folded into trainable layers (mobilenet_v2_mid is a graph model): use mobilenet_v2, inception_v3, tiny or a Keras model with standard layers`,
        );
      const plan = planTail(graph, p.unfreeze);
      const cacheAt = cachePoint(graph, plan);
      const pos = new Map(graph.nodes.map((n, i) => [n.id, i]));
      const ends = p.multiscale ? stageEnds(graph) : [];
      const endsCached = ends.filter((id) => pos.get(id)! <= pos.get(cacheAt)!);
      const endsMid = ends.filter((id) => pos.get(id)! > pos.get(cacheAt)! && pos.get(id)! <= pos.get(plan.cut)!);
      const endsTail = ends.filter((id) => pos.get(id)! > pos.get(plan.cut)!);
      const route =
        p.route === 'auto'
          ? backend.name === 'tfjs-node' || backend.name === 'tfjs-node-gpu'
            ? 'images'
            : 'cached'
          : p.route;
      // Convolution gradients exist on the native backends and cpu; wasm has only matmul-style ones.
      const flavour = backend.name === 'wasm' ? 'matmul' : 'native';
      if (plan.trainable.length < p.unfreeze)
        ctx.log(`the trunk has ${plan.trainable.length} weight layers: all of them train`);
      ctx.log(
        `fine-tune ${backbone.name} on ${backend.name}: route ${route} (${flavour} ops), training ${plan.trainable.length} layer(s) [${plan.trainable.join(', ')}] after ${plan.cut}; activations cached at ${cacheAt}`,
      );

      // --- cache activations at the cache point for every image ----------------------------------
      const flip = p.augment ? 'both' : 'none';
      const rowsPer = flip === 'both' ? 2 : 1;
      const modelKey = `${backbone.id}|act=${cacheAt}|ends=${endsCached.join(',')}|flip=${flip}`;
      const store = FeatureStore.open(join(ctx.state, 'activations.sqlite'));
      const extractStarted = Date.now();
      const extractor = new Extractor({
        store,
        modelKey,
        batchSize: p.extract_batch_size,
        signal: ctx.signal,
        startPool: async () => {
          const workers = workerCount({ ...p, batch_size: p.extract_batch_size }, p.backend);
          const outputs = [
            { nodes: [cacheAt], pool: false },
            ...(endsCached.length ? [{ nodes: endsCached, pool: true }] : []),
          ];
          const pool = await FeaturePool.start({
            backend: p.backend,
            spec,
            cacheDir,
            outputs,
            flip,
            workers,
            signal: ctx.signal,
          });
          ctx.log(
            `caching activations with ${Math.max(1, workers)} ${workers === 0 ? 'in-process engine' : 'worker(s)'}`,
          );
          return pool;
        },
      });
      type Img = { imageId: string; labels: string[]; hash: string; path: string };
      const imgs: Partial<Record<SplitName, Img[]>> = {};
      const missing: Partial<Record<SplitName, number>> = {};
      try {
        for (const s of presentSplits(splitDir)) {
          const list: Img[] = [];
          let miss = 0;
          for await (const img of scanSplitImages(splitDir, imagesDir, s, store)) {
            if (!img.hash || !img.path) {
              miss++;
              continue;
            }
            await extractor.add(img.hash, img.path, img.bytes);
            list.push({ imageId: img.imageId, labels: img.labels, hash: img.hash, path: img.path });
          }
          imgs[s] = list;
          missing[s] = miss;
        }
        await extractor.finish();
      } catch (e) {
        await extractor.abort();
        store.close();
        throw e;
      }
      const extractSeconds = (Date.now() - extractStarted) / 1000;
      ctx.log(
        `activations: computed ${extractor.computed}, reused ${extractor.reused} in ${extractSeconds.toFixed(1)} s`,
      );

      // --- load rows, advance them to the cut ---------------------------------------------------
      const byId = new Map(graph.nodes.map((n) => [n.id, n]));
      const cacheShape = byId.get(cacheAt)!.shape;
      const actDim = cacheShape.reduce((a, b) => a * b, 1);
      const cachedEndsDim = endsCached.reduce((s, id) => s + byId.get(id)!.shape.at(-1)!, 0);
      const weights = uploadWeights(tf, graph.nodes);
      cleanup.push(() => weights.dispose());
      const load = (s: SplitName, rows: number) => {
        const list = (imgs[s] ?? []).filter((i) => !extractor.failed.has(i.hash));
        missing[s] = (missing[s] ?? 0) + (imgs[s]?.length ?? 0) - list.length;
        imgs[s] = list;
        const raw = rowsFromStore(
          store,
          modelKey,
          list.map((i) => i.hash),
          actDim,
          cachedEndsDim,
          rows,
          cacheShape,
        );
        return advanceToCut(tf, graph, weights, raw, cacheAt, plan.cut, endsMid);
      };
      const data = {
        train: load('train', rowsPer),
        validation: load('validation', rowsPer),
        holdout: imgs.holdout ? load('holdout', rowsPer) : undefined,
        test: imgs.test ? load('test', rowsPer) : undefined,
      };
      store.close();
      if (data.train.images === 0) throw new Error('no training images with activations');
      if (data.validation.images === 0)
        throw new Error('no validation images with activations (needed for early stopping)');
      const truth = (s: SplitName): Uint8Array =>
        truthMatrix(
          (imgs[s] ?? []).map((i) => ({ labels: i.labels })),
          labels,
        );
      const yTrain = truth('train');
      const yVal = truth('validation');

      // --- phase 1: head on the frozen trunk -----------------------------------------------------
      const tailOutputs = [...endsTail, graph.output];
      /** Frozen-trunk features of the given rows (fused kernels): [frozen pooled ends, tail ends, final]. */
      const frozenFeatures = (d: typeof data.train, rows: Int32Array): InstanceType<typeof FeatureMatrix> => {
        const parts: Float32Array[] = [];
        let dim = 0;
        for (let at = 0; at < rows.length; at += 64) {
          const idx = rows.subarray(at, Math.min(rows.length, at + 64));
          const f = tf.tidy(() => {
            const { x, frozen } = rowTensors(tf, d, idx);
            const outs = evaluate(tf, graph, weights, new Map([[plan.cut, x]]), tailOutputs).map((o) =>
              o.rank === 4 ? tf.mean(o, [1, 2]) : o,
            );
            return tf.concat([frozen, ...outs], 1);
          });
          dim = f.shape[1]!;
          parts.push(f.dataSync() as Float32Array);
          f.dispose();
        }
        const all = new Float32Array(rows.length * dim);
        let off = 0;
        for (const part of parts) {
          all.set(part, off);
          off += part.length;
        }
        return new FeatureMatrix(rows.length, dim, all);
      };
      const allRows = (d: typeof data.train): Int32Array => Int32Array.from({ length: d.act.rows }, (_, i) => i);
      // Training rows: every orientation; labels repeat per orientation.
      const repeatLabels = (y: Uint8Array, per: number): Uint8Array => {
        const out = new Uint8Array(y.length * per);
        for (let i = 0; i < y.length / L; i++)
          for (let r = 0; r < per; r++) out.set(y.subarray(i * L, (i + 1) * L), (i * per + r) * L);
        return out;
      };
      const fTrain = frozenFeatures(data.train, allRows(data.train));
      const yTrainRows = repeatLabels(yTrain, rowsPer);
      const fVal = frozenFeatures(data.validation, originalRows(data.validation));
      const featureDim = fTrain.dim;

      // Checkpoint keys. The head phase depends only on the frozen features and head params, so its
      // (small) checkpoint is kept and reused when only fine-tuning params (N, learning rate,
      // route...) change; the fine-tuning phase's key adds those.
      const headParams = Object.fromEntries(Object.keys(HEAD_PARAMS).map((k) => [k, p[k as keyof HeadParams]]));
      const h = createHash('sha256').update(
        JSON.stringify({
          v: CHECKPOINT_VERSION,
          headParams,
          multiscale: p.multiscale,
          augment: p.augment,
          seed: ctx.seed,
          labels,
          backbone: backbone.id,
          ends,
        }),
      );
      for (const s of ['train', 'validation'] as const) {
        h.update((imgs[s] ?? []).map((i) => `${i.imageId}:${i.hash}:${i.labels.join(' ')}`).join('\n'));
      }
      const headKey = h.digest('hex').slice(0, 24);
      const tuneKey = createHash('sha256')
        .update(
          JSON.stringify({
            headKey,
            unfreeze: p.unfreeze,
            lr: p.fine_tune_lr,
            epochs: p.fine_tune_epochs,
            patience: p.fine_tune_patience,
            batch: p.fine_tune_batch_size,
            route,
            crop: p.crop,
            flavour,
          }),
        )
        .digest('hex')
        .slice(0, 24);
      const headDir = checkpointDir(ctx.state, `fine-tune-head-${headKey}`);
      const tuneDir = checkpointDir(ctx.state, `fine-tune-tail-${tuneKey}`);

      const standardizer = p.standardize
        ? fitStandardizer(fTrain.rows, fTrain.dim, (a, b) => fTrain.range(a, b))
        : undefined;
      const head = DenseHead.create(
        tf,
        { inputDim: featureDim, hidden: p.hidden, dropout: p.dropout, labels: L },
        ctx.seed,
        priorLogits(yTrain, data.train.images, L),
        standardizer,
      );
      cleanup.push(() => head.dispose());
      const loss = {
        name: p.loss,
        gamma: p.focal_gamma,
        posWeight:
          p.loss === 'weighted_bce' ? positiveWeights(yTrain, data.train.images, L, p.pos_weight_max) : undefined,
      };
      const onEpoch = (r: {
        phase: string;
        epoch: number;
        loss: number;
        val_loss: number;
        val_micro_f1: number;
        lr: number;
        seconds: number;
        samples_per_s: number;
      }): void => {
        ctx.log(
          `${r.phase} epoch ${r.epoch}: loss ${r.loss.toFixed(5)}, val loss ${r.val_loss.toFixed(5)}, val micro-F1 ${r.val_micro_f1.toFixed(4)}, lr ${r.lr.toExponential(1)}, ${r.seconds.toFixed(1)} s`,
        );
      };
      const headResult = await train({
        tf,
        ...scheduleOf(p),
        phase: 'head',
        params: head.variables,
        nTrain: fTrain.rows,
        seed: ctx.seed,
        stepLoss: headStepLoss(tf, head, loss, { x: fTrain, y: yTrainRows }),
        validate: () => evaluateHead(tf, head, loss, { x: fVal, y: yVal }),
        checkpointDir: headDir,
        signal: ctx.signal,
        log: ctx.log,
        onEpoch,
      });
      const headScore = (s: 'validation' | 'holdout') => {
        const d = data[s];
        const list = imgs[s] ?? [];
        return d
          ? score(
              {
                ids: list.map((i) => i.imageId),
                labels: list.map((i) => i.labels),
                probs: predictHead(tf, head, frozenFeatures(d, originalRows(d))),
                missing: 0,
              },
              labels,
            )
          : undefined;
      };
      const headScores = { validation: headScore('validation')!, holdout: headScore('holdout') };
      ctx.log(
        `head on the frozen trunk: validation micro-F1 ${headScores.validation.micro_f1.toFixed(4)}${headScores.holdout ? `, holdout ${headScores.holdout.micro_f1.toFixed(4)}` : ''}`,
      );

      // --- phase 2: unfreeze the tail ------------------------------------------------------------
      const tail = new Tail(tf, plan.cut, plan.nodes, plan.trainable, flavour);
      cleanup.push(() => tail.dispose());
      /** Logits of a batch through the trainable tail and the head. */
      const logits = (x: ReturnType<typeof rowTensors>, training: boolean, seed: number) => {
        const outs = tail.forward(x.x, tailOutputs).map((o) => (o.rank === 4 ? tf.mean(o, [1, 2]) : o));
        return head.logits(tf.concat([x.frozen, ...outs], 1), training, seed, true);
      };
      const evalSet = (d: typeof data.train, y: Uint8Array | undefined) => {
        const rows = originalRows(d);
        const probs = new Float32Array(d.images * L);
        let sum = 0;
        for (let at = 0; at < rows.length; at += 64) {
          const idx = rows.subarray(at, Math.min(rows.length, at + 64));
          const [l, pr] = tf.tidy(() => {
            const z = logits(rowTensors(tf, d, idx), false, 0);
            const lv = y
              ? lossOf(
                  tf,
                  loss,
                  z,
                  tf.tensor2d(
                    gatherLabels(
                      y,
                      L,
                      Int32Array.from(idx, (_, i) => at + i),
                    ),
                    [idx.length, L],
                  ),
                )
              : tf.scalar(0);
            return [lv, tf.sigmoid(z)];
          });
          sum += (l!.dataSync()[0] ?? 0) * idx.length;
          probs.set(pr!.dataSync() as Float32Array, at * L);
          tf.dispose([l!, pr!]);
        }
        return { loss: rows.length ? sum / rows.length : 0, probs };
      };
      const size = backbone.inputSize;
      const trainImgs = imgs.train ?? [];
      const rand = (seed: number) => mulberry32(hashSeed(seed, 'augment'));
      let tuneResult: Awaited<ReturnType<typeof train>> | undefined;
      if (p.fine_tune_epochs > 0) {
        tuneResult = await train({
          tf,
          ...scheduleOf(p),
          epochs: p.fine_tune_epochs,
          batchSize: p.fine_tune_batch_size,
          lr: p.fine_tune_lr,
          minLr: Math.min(p.min_lr, p.fine_tune_lr),
          patience: p.fine_tune_patience,
          lrPatience: Math.min(p.lr_patience, p.fine_tune_patience),
          phase: 'fine-tune',
          params: [...tail.variables, ...head.variables],
          nTrain: data.train.images,
          seed: ctx.seed,
          history: headResult.history,
          startAsBest: true,
          // images route: decode this batch's files while the previous step runs
          // images route: decode this batch's files (sharp, off-thread) and run the frozen trunk
          // here, outside the gradient tape, so the tape holds only the tail's activations.
          prepare:
            route === 'images'
              ? async (idx, seed) => {
                  const r = rand(seed);
                  const pix = new Float32Array(idx.length * size * size * 3);
                  await Promise.all(
                    Array.from(idx, async (i, k) => {
                      const rgb = await decodeRgb(await readFile(trainImgs[i]!.path), size);
                      const flipIt = p.augment && r() < 0.5;
                      const dx = p.augment ? Math.round((r() * 2 - 1) * p.crop) : 0;
                      const dy = p.augment ? Math.round((r() * 2 - 1) * p.crop) : 0;
                      preprocessInto(
                        augmentRgb(rgb, size, flipIt, dx, dy),
                        backbone.preprocess,
                        pix,
                        k * size * size * 3,
                      );
                    }),
                  );
                  const [cutT, frozenT] = tf.tidy(() => {
                    const outs = evaluate(
                      tf,
                      graph,
                      weights,
                      new Map([[graph.nodes[0]!.id, tf.tensor4d(pix, [idx.length, size, size, 3]) as Tensor]]),
                      [plan.cut, ...endsCached, ...endsMid],
                    );
                    const pooled = outs.slice(1).map((o) => tf.mean(o, [1, 2]));
                    return [outs[0]!, pooled.length ? tf.concat(pooled, 1) : tf.zeros([idx.length, 0])];
                  });
                  const out = { cut: cutT!.dataSync() as Float32Array, frozen: frozenT!.dataSync() as Float32Array };
                  tf.dispose([cutT!, frozenT!]);
                  return out;
                }
              : undefined,
          stepLoss: (idx, seed, prepared) => {
            let batch: ReturnType<typeof rowTensors>;
            if (prepared) {
              const { cut, frozen } = prepared as { cut: Float32Array; frozen: Float32Array };
              const [h0, w0, c0] = data.train.shape as [number, number, number];
              batch = {
                x: tf.tensor4d(cut, [idx.length, h0, w0, c0]),
                frozen: tf.tensor2d(frozen, [idx.length, frozen.length / idx.length]),
              };
            } else {
              // Cached activations: each image in a random orientation.
              const r = rand(seed);
              const rows = Int32Array.from(idx, (i) => i * rowsPer + (rowsPer === 2 && r() < 0.5 ? 1 : 0));
              batch = rowTensors(tf, data.train, rows);
            }
            const y = tf.tensor2d(gatherLabels(yTrain, L, idx), [idx.length, L]);
            return lossOf(tf, loss, logits(batch, true, seed), y);
          },
          validate: () => {
            const v = evalSet(data.validation, yVal);
            return { loss: v.loss, microF1: microF1AtThreshold(yVal, v.probs, data.validation.images, L, 0.5) };
          },
          checkpointDir: tuneDir,
          signal: ctx.signal,
          log: ctx.log,
          onEpoch,
        });
      }

      // --- outputs -------------------------------------------------------------------------------
      const history = tuneResult?.history ?? headResult.history;
      const splits: Parameters<typeof writeModelOutputs>[2] = {};
      for (const s of ['validation', 'holdout', 'test'] as const) {
        const d = data[s];
        if (!d) continue;
        splits[s] = {
          ids: (imgs[s] ?? []).map((i) => i.imageId),
          labels: (imgs[s] ?? []).map((i) => i.labels),
          probs: evalSet(d, undefined).probs,
          missing: missing[s] ?? 0,
        };
      }
      const metrics = await writeModelOutputs(
        ctx.out,
        labels,
        splits,
        history,
        `fine-tune-backbone on ${backbone.name}`,
      );
      tail.writeBack();
      const model = graphToLayersModel(tf, graph, ends, head);
      await model.save(
        dirSaveHandler(tf, join(ctx.out, 'model'), {
          tailor: {
            kind: 'fine-tuned',
            backbone: backbone.id,
            inputSize: size,
            preprocess: backbone.preprocess,
            labels,
            trained: plan.trainable,
          },
        }),
      );
      model.dispose();
      await removeCheckpoint(tuneDir);

      const perEpoch = (phase: string) => {
        const rs = history.filter((r) => r.phase === phase);
        return rs.length ? rs.reduce((s, r) => s + r.seconds, 0) / rs.length : null;
      };
      const trainableParams = plan.nodes
        .filter((n) => plan.trainable.includes(n.id))
        .reduce(
          (s, n) =>
            s +
            (n.op === 'affine'
              ? n.scale.length * 2
              : n.op === 'conv' || n.op === 'dwconv'
                ? n.kernel.length + n.bias.length
                : 0),
          0,
        );
      ctx.metrics({
        ...metrics,
        fine_tune: {
          backend: backend.name,
          route,
          ops: flavour,
          trained_layers: plan.trainable,
          cut: plan.cut,
          cache_point: cacheAt,
          trainable_backbone_params: trainableParams,
          feature_dim: featureDim,
          activations: { computed: extractor.computed, reused: extractor.reused, seconds: extractSeconds },
          head_phase: {
            epochs: headResult.history.length,
            best_epoch: headResult.bestEpoch + 1,
            seconds_per_epoch: perEpoch('head'),
            validation_micro_f1: headScores.validation.micro_f1,
            holdout_micro_f1: headScores.holdout?.micro_f1 ?? null,
          },
          fine_tune_phase: tuneResult
            ? {
                epochs: tuneResult.history.filter((r) => r.phase === 'fine-tune').length,
                best_epoch: tuneResult.bestEpoch < 0 ? null : tuneResult.bestEpoch + 1,
                seconds_per_epoch: perEpoch('fine-tune'),
                stopped_early: tuneResult.stoppedEarly,
              }
            : null,
          seconds: (Date.now() - started) / 1000,
        },
      });
      const v = metrics.validation as { micro_f1: number };
      const ho = metrics.holdout as { micro_f1: number } | undefined;
      ctx.log(
        `after fine-tuning: validation micro-F1 ${v.micro_f1.toFixed(4)}${ho ? `, holdout ${ho.micro_f1.toFixed(4)}` : ''} at 0.5`,
      );
    } finally {
      for (const f of cleanup.reverse()) f();
    }
  },
});
