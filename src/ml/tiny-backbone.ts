/**
 * A tiny convolutional trunk built in code from a seed: the backbone of tests (no download, no
 * file, milliseconds per batch) with the same structure as MobileNetV2 in miniature (strided conv,
 * depthwise conv, 1x1 expansion, residual add, global pooling), so every code path a real backbone
 * takes, including fine-tuning its last layers, runs in tests too.
 */
import { mulberry32, hashSeed } from '../random.js';
import { windowOut, type ConvNode, type DwConvNode, type Graph } from './graph.js';

/** Build the tiny trunk for square inputs of `size` px; feature width 32. */
export function tinyGraph(size: number, seed: number): Graph {
  const rand = mulberry32(hashSeed(seed, 'tiny-backbone'));
  // He-uniform initialisation keeps activations from vanishing through the ReLUs.
  const init = (n: number, fanIn: number): Float32Array => {
    const limit = Math.sqrt(6 / fanIn);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * limit;
    return a;
  };
  const h1 = windowOut(size, 3, 2, 'same', 0);
  const h2 = windowOut(h1, 3, 2, 'same', 0);
  const conv = (
    id: string,
    input: string,
    k: number,
    cin: number,
    cout: number,
    stride: number,
    hw: number,
    act: ConvNode['act'],
  ): ConvNode => ({
    op: 'conv',
    id,
    inputs: [input],
    shape: [hw, hw, cout],
    kshape: [k, k, cin, cout],
    kernel: init(k * k * cin * cout, k * k * cin),
    bias: new Float32Array(cout).fill(0.01),
    strides: [stride, stride],
    padding: 'same',
    act,
  });
  const dw = (id: string, input: string, c: number, stride: number, hw: number): DwConvNode => ({
    op: 'dwconv',
    id,
    inputs: [input],
    shape: [hw, hw, c],
    kshape: [3, 3, c, 1],
    kernel: init(9 * c, 9),
    bias: new Float32Array(c),
    strides: [stride, stride],
    padding: 'same',
    act: 'relu6',
  });
  return {
    nodes: [
      { op: 'input', id: 'input', inputs: [], shape: [size, size, 3] },
      conv('stem', 'input', 3, 3, 16, 2, h1, 'relu6'),
      dw('block1_dw', 'stem', 16, 2, h2),
      conv('block1_project', 'block1_dw', 1, 16, 16, 1, h2, 'linear'),
      conv('block2_expand', 'block1_project', 1, 16, 48, 1, h2, 'relu6'),
      dw('block2_dw', 'block2_expand', 48, 1, h2),
      conv('block2_project', 'block2_dw', 1, 48, 16, 1, h2, 'linear'),
      { op: 'add', id: 'block2_add', inputs: ['block1_project', 'block2_project'], shape: [h2, h2, 16], act: 'linear' },
      conv('head_conv', 'block2_add', 1, 16, 32, 1, h2, 'relu6'),
      { op: 'gap', id: 'pool', inputs: ['head_conv'], shape: [32] },
    ],
    output: 'pool',
  };
}
