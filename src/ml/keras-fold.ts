/**
 * Turn a Keras-style tfjs LayersModel into the folded graph of graph.ts, cut at its global pooling.
 *
 * Supported layers (keras-layers.ts) cover MobileNet, Inception, Xception and ResNet style trunks.
 * A model with any other layer before the cut is reported as unsupported (the caller then runs the
 * LayersModel itself, which is slower and cannot be fine-tuned on wasm). The folding passes are in
 * graph-fold.ts, the config readers in keras-config.ts.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import type { GNode, Graph } from './graph.js';
import { fold, simplifyGlobalPool } from './graph-fold.js';
import { UnsupportedLayerError, inboundLayers, type Cfg, type Layer } from './keras-config.js';
import { foldLayer } from './keras-layers.js';

export { UnsupportedLayerError };

/** Layers that end a trunk: their output is the feature vector. */
function isGlobalPool(cls: string): boolean {
  return cls === 'GlobalAveragePooling2D' || cls === 'GlobalMaxPooling2D';
}

/**
 * Name of the layer whose output is the pooled feature vector: the first global pooling, or a
 * Flatten right after a pooling that leaves 1x1 (how Keras 2.2 MobileNetV2/InceptionV3 pool).
 */
export function findPoolingCut(model: LayersModel): string {
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (isGlobalPool(cls)) return layer.name;
    if (cls === 'Flatten') {
      const parent = inboundLayers(layer)[0];
      const shape = parent?.outputShape as number[] | undefined;
      if (parent && /Pooling2D$/.test(parent.getClassName()) && shape && shape[1] === 1 && shape[2] === 1)
        return layer.name;
    }
  }
  throw new UnsupportedLayerError('no global pooling layer found (pass cut_layer to name the feature layer)');
}

/** Convert the model up to `cutLayer` (default: its global pooling) into a folded graph. */
export function foldKerasModel(model: LayersModel, cutLayer?: string): Graph {
  const cut = cutLayer ?? findPoolingCut(model);
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const cutL = byName.get(cut);
  if (!cutL) throw new Error(`cut layer ${JSON.stringify(cut)} is not in the model`);

  // Ancestors of the cut, in a topological order (depth-first post-order).
  const order: Layer[] = [];
  const seen = new Set<string>();
  const visit = (l: Layer): void => {
    if (seen.has(l.name)) return;
    seen.add(l.name);
    for (const p of inboundLayers(l)) visit(p);
    order.push(l);
  };
  visit(cutL);

  const nodes: GNode[] = [];
  const shapes = new Map<string, number[]>();
  const alias = new Map<string, string>(); // layer name -> node id holding its value
  for (const l of order) {
    const cls = l.getClassName();
    const inputs =
      cls === 'InputLayer'
        ? []
        : inboundLayers(l).map((p) => {
            const id = alias.get(p.name);
            if (!id) throw new Error(`internal error: ${p.name} visited after ${l.name}`);
            return id;
          });
    const folded = foldLayer({
      layer: l,
      cls,
      cfg: l.getConfig() as Cfg,
      where: `layer ${l.name} (${cls})`,
      inputs,
      shapeOf: (id) => shapes.get(id)!,
    });
    if ('alias' in folded) {
      alias.set(l.name, folded.alias);
      continue;
    }
    for (const n of folded.nodes) {
      nodes.push(n);
      shapes.set(n.id, n.shape);
    }
    alias.set(l.name, folded.nodes[folded.nodes.length - 1]!.id);
  }
  const g = fold({ nodes, output: alias.get(cut)! });
  // A pooling that covers the whole map followed by Flatten is a global average: say so.
  return simplifyGlobalPool(g);
}
