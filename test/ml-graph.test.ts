/**
 * The folded graph: a Keras model with batch normalisation, ReLU6, zero padding, depthwise and
 * strided convolutions, residual add, concatenation and pooling folds into fused nodes that give
 * the model's own outputs; the trainable tail gives the same values and gradients with matmul-only
 * ops as with tfjs convolutions; the graph exports back to a LayersModel. Runs on the cpu backend,
 * the one that has both kinds of gradients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayersModel, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { useBackend, type TF } from '../src/ml/backend.js';
import { foldKerasModel, findPoolingCut } from '../src/ml/keras-fold.js';
import { evaluate, uploadWeights } from '../src/ml/graph-infer.js';
import { Tail, articulationPoints, cachePoint, planTail, stageEnds } from '../src/ml/graph-train.js';
import { graphToLayersModel } from '../src/ml/graph-layers.js';
import { DenseHead } from '../src/ml/dense-head.js';
import { tinyGraph } from '../src/ml/tiny-backbone.js';
import { decodeHalf, encodeHalf } from '../src/util/float16.js';
import { mulberry32 } from '../src/random.js';

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

/** A small Keras-style trunk with every folded construct, random weights (BN statistics too). */
function buildKeras(tf: TF): LayersModel {
  const rand = mulberry32(7);
  const input = tf.input({ shape: [20, 20, 3], name: 'img' });
  const bn = (x: SymbolicTensor, name: string): SymbolicTensor =>
    tf.layers.batchNormalization({ name }).apply(x) as SymbolicTensor;
  let x = tf.layers
    .zeroPadding2d({
      padding: [
        [0, 1],
        [0, 1],
      ],
      name: 'pad',
    })
    .apply(input) as SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'stem' })
    .apply(x) as SymbolicTensor;
  x = tf.layers.reLU({ maxValue: 6, name: 'stem_relu' }).apply(bn(x, 'stem_bn')) as SymbolicTensor;
  const dw = tf.layers
    .depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, name: 'dw' })
    .apply(x) as SymbolicTensor;
  const dwAct = tf.layers.reLU({ maxValue: 6, name: 'dw_relu' }).apply(bn(dw, 'dw_bn')) as SymbolicTensor;
  const proj = bn(
    tf.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false, name: 'proj' }).apply(dwAct) as SymbolicTensor,
    'proj_bn',
  );
  const added = tf.layers.add({ name: 'add' }).apply([x, proj]) as SymbolicTensor;
  const a = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'branch_a' })
    .apply(added) as SymbolicTensor;
  const b = tf.layers
    .maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'branch_b' })
    .apply(added) as SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([a, b]) as SymbolicTensor;
  const avg = tf.layers
    .averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: 'avg' })
    .apply(cat) as SymbolicTensor;
  const top = tf.layers
    .conv2d({ filters: 12, kernelSize: 1, activation: 'relu', name: 'top' })
    .apply(avg) as SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(top) as SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'logits' }).apply(pooled) as SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(
      ws.map((w, i) => {
        const isVar = layer.getClassName() === 'BatchNormalization' && i === 3;
        const vals = Float32Array.from({ length: w.size }, () => (isVar ? 0.5 + rand() : (rand() - 0.5) * 0.8));
        return tf.tensor(vals, w.shape);
      }),
    );
  }
  return model;
}

test('a Keras trunk folds into fused nodes with the same outputs', async () => {
  const { tf } = await useBackend('cpu');
  const model = buildKeras(tf);
  assert.equal(findPoolingCut(model), 'pool');
  const g = foldKerasModel(model);
  // Batch norms and activations are gone (folded), the pad is merged into the stem.
  const ops = g.nodes.map((n) => n.op);
  assert.ok(!ops.includes('affine') && !ops.includes('act') && !ops.includes('pad'), ops.join(','));
  const stem = g.nodes.find((n) => n.id === 'stem_relu');
  assert.ok(stem && stem.op === 'conv' && stem.act === 'relu6' && typeof stem.padding !== 'string');
  const x = tf.randomUniform([3, 20, 20, 3], 0, 1, 'float32', 1);
  const cut = tf.model({ inputs: model.inputs, outputs: model.getLayer('pool').output as SymbolicTensor });
  const want = (cut.predict(x) as Tensor).dataSync();
  const w = uploadWeights(tf, g.nodes);
  const got = evaluate(tf, g, w, new Map([[g.nodes[0]!.id, x]]), [g.output])[0]!.dataSync();
  assert.ok(maxDiff(want, got) < 1e-4, `max diff ${maxDiff(want, got)}`);
});

test('the trainable tail matches inference, and matmul ops give the gradients of convolutions', async () => {
  const { tf } = await useBackend('cpu');
  const g = foldKerasModel(buildKeras(tf));
  const w = uploadWeights(tf, g.nodes);
  const x = tf.randomUniform([2, 20, 20, 3], 0, 1, 'float32', 2);
  const feed = new Map([[g.nodes[0]!.id, x]]);
  for (const n of [1, 3, 100]) {
    const plan = planTail(g, n);
    const [cutValue, feature] = evaluate(tf, g, w, feed, [plan.cut, g.output]);
    const results = (['matmul', 'native'] as const).map((flavour) => {
      const tail = new Tail(tf, plan.cut, plan.nodes, plan.trainable, flavour);
      const y = tail.forward(cutValue!)[0]!.dataSync();
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(tail.forward(cutValue!)[0]!)) as never, tail.variables);
      const gs = tail.variables.map((v) => grads[v.name]!.dataSync());
      tail.dispose();
      return { y, gs };
    });
    assert.ok(maxDiff(results[0]!.y, feature!.dataSync()) < 1e-4, `unfreeze ${n}: tail differs from inference`);
    assert.equal(results[0]!.gs.length, results[1]!.gs.length);
    results[0]!.gs.forEach((g0, i) => {
      const g1 = results[1]!.gs[i]!;
      const scale = Math.max(1e-3, ...Array.from(g1, Math.abs));
      assert.ok(maxDiff(g0, g1) / scale < 1e-3, `unfreeze ${n}: gradient ${i} differs by ${maxDiff(g0, g1)}`);
    });
    assert.ok(
      results[0]!.gs.some((g0) => g0.some((v) => v !== 0)),
      'gradients are not all zero',
    );
  }
});

test('cut planning respects residual connections and resolution stages', () => {
  const g = tinyGraph(32, 0);
  const ids = articulationPoints(g).map((i) => g.nodes[i]!.id);
  // Inside the residual block (expand, depthwise, project) nothing is a cut: the add reads block1_project.
  assert.ok(!ids.includes('block2_expand') && !ids.includes('block2_dw') && ids.includes('block2_add'), ids.join(','));
  const one = planTail(g, 1);
  assert.deepEqual(one.trainable, ['head_conv']);
  assert.equal(one.cut, 'block2_add');
  const three = planTail(g, 3);
  assert.deepEqual(three.trainable, ['block2_dw', 'block2_project', 'head_conv']);
  assert.equal(three.cut, 'block1_project');
  // The cache point is the smallest cut of the 8x8 stage, the earliest of those.
  assert.equal(cachePoint(g, one), 'block1_dw');
  assert.deepEqual(stageEnds(g), ['stem']);
  assert.deepEqual(planTail(g, 999).trainable.length, 7);
});

test('a folded graph with a head exports to a LayersModel giving the same probabilities', async () => {
  const { tf } = await useBackend('cpu');
  const g = tinyGraph(24, 3);
  const w = uploadWeights(tf, g.nodes);
  const ends = stageEnds(g);
  const head = DenseHead.create(tf, { inputDim: 16 + 32, hidden: [8], dropout: 0.5, labels: 3 }, 1, undefined, {
    mean: new Float32Array(48).fill(0.1),
    invStd: new Float32Array(48).fill(2),
  });
  const x = tf.randomUniform([2, 24, 24, 3], 0, 1, 'float32', 4);
  const outs = evaluate(tf, g, w, new Map([['input', x]]), [...ends, g.output]);
  const features = tf.concat(
    outs.map((o) => (o.rank === 4 ? tf.mean(o, [1, 2]) : o)),
    1,
  );
  const want = tf.sigmoid(head.logits(features, false)).dataSync();
  const model = graphToLayersModel(tf, g, ends, head);
  const got = (model.predict(x) as Tensor).dataSync();
  assert.ok(maxDiff(want, got) < 1e-5, `max diff ${maxDiff(want, got)}`);
});

test('float16 round trip keeps three significant digits, and exact halves exactly', () => {
  const src = Float32Array.from([0, 1, -2.5, 0.1, 1234.5, 6e-5, 65504, 1e6, -1e-9]);
  const back = decodeHalf(encodeHalf(src), new Float32Array(src.length));
  assert.equal(back[0], 0);
  assert.equal(back[1], 1);
  assert.equal(back[2], -2.5);
  assert.ok(Math.abs(back[3]! - 0.1) < 1e-4);
  assert.ok(Math.abs(back[4]! - 1234.5) <= 0.5);
  assert.ok(Math.abs(back[5]! - 6e-5) < 1e-7);
  assert.equal(back[6], 65504);
  assert.equal(back[7], Infinity);
  assert.ok(Object.is(back[8], -0));
});
