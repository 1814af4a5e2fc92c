/**
 * Reading Keras layer configs for the folder (keras-fold.ts): a layer's inbound layers, weights by
 * short name, and the config values the folded graph supports (activations, pairs, paddings),
 * each failing with UnsupportedLayerError that names the layer.
 */
import type { LayersModel } from '@tensorflow/tfjs';
import type { Act } from './graph.js';

export type Layer = LayersModel['layers'][number];
export type Cfg = Record<string, unknown>;

/** Thrown when a layer cannot be expressed in the folded graph. */
export class UnsupportedLayerError extends Error {}

export function inboundLayers(layer: Layer): Layer[] {
  const node = (layer as unknown as { inboundNodes: Array<{ inboundLayers: Layer[] }> }).inboundNodes[0];
  return node ? node.inboundLayers : [];
}

export function act(name: unknown, where: string): Act {
  if (name === undefined || name === null || name === 'linear') return 'linear';
  if (name === 'relu' || name === 'relu6') return name;
  throw new UnsupportedLayerError(`${where}: activation ${JSON.stringify(name)} is not supported`);
}

export function pair(v: unknown, where: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number'))
    return [v[0] as number, v[1] as number];
  throw new UnsupportedLayerError(`${where}: expected a pair of numbers, got ${JSON.stringify(v)}`);
}

export function padding(v: unknown, where: string): 'same' | 'valid' {
  if (v === 'same' || v === 'valid') return v;
  throw new UnsupportedLayerError(`${where}: padding ${JSON.stringify(v)} is not supported`);
}

export function zeroPads(v: unknown, where: string): [[number, number], [number, number]] {
  if (typeof v === 'number')
    return [
      [v, v],
      [v, v],
    ];
  if (Array.isArray(v) && v.length === 2) {
    const [a, b] = v as unknown[];
    if (typeof a === 'number' && typeof b === 'number')
      return [
        [a, a],
        [b, b],
      ];
    return [pair(a, where), pair(b, where)];
  }
  throw new UnsupportedLayerError(`${where}: padding ${JSON.stringify(v)} is not supported`);
}

/** A layer's weights by their short name (kernel, bias, gamma, ...), as Float32Arrays. */
export function weightsOf(layer: Layer): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const values = layer.getWeights();
  layer.weights.forEach((w, i) => {
    const short = (w.originalName ?? w.name).split('/').pop()!.replace(/:\d+$/, '').replace(/_\d+$/, '');
    const t = values[i];
    if (t) out.set(short, Float32Array.from(t.dataSync() as Float32Array));
  });
  return out;
}

export function need(w: Map<string, Float32Array>, name: string, where: string): Float32Array {
  const v = w.get(name);
  if (!v) throw new UnsupportedLayerError(`${where}: weight ${name} missing`);
  return v;
}

export function checkChannelsLast(cfg: Cfg, where: string): void {
  if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast')
    throw new UnsupportedLayerError(`${where}: only channels_last is supported`);
  const d = cfg.dilationRate;
  if (d !== undefined && pair(d, where).some((x) => x !== 1))
    throw new UnsupportedLayerError(`${where}: dilated convolutions are not supported`);
}
