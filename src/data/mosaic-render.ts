/**
 * Painting a scene into raw RGB pixels: each 28x28 garment is upscaled bilinearly, its intensity
 * used both as a soft mask over the white canvas and as shading of its colour (so the garment's
 * texture survives the tint), with stripes, dots or checks in a lighter shade of the colour.
 * Plain JS over one buffer, then a single sharp call encodes it: the cheapest path per image.
 */
import { FMNIST_SIDE, fmnistImage, type FmnistClass } from './fmnist.js';
import { GARMENT_COLOURS } from './garment-colours.js';
import type { Garment, Scene } from './mosaic-scene.js';

/** Whether a pixel at garment-local (u, v) of a garment of side `size` lies on the pattern. */
function onPattern(pattern: Garment['pattern'], u: number, v: number, size: number): boolean {
  if (pattern === 'plain') return false;
  const period = Math.max(10, Math.round(size / 6));
  const half = period / 2;
  switch (pattern) {
    case 'stripes':
      return Math.floor(v / half) % 2 === 1;
    case 'checks':
      return (Math.floor(u / half) + Math.floor(v / half)) % 2 === 1;
    case 'dots': {
      const du = (u % period) - half;
      const dv = (v % period) - half;
      return du * du + dv * dv < (period * 0.3) ** 2;
    }
  }
}

function paintGarment(rgb: Uint8Array, width: number, height: number, g: Garment, src: Uint8Array): void {
  const [cr, cg, cb] = GARMENT_COLOURS[g.colour]?.rgb ?? [0, 0, 0];
  // The pattern shade: the colour mixed 70% towards white (dark colours) or 55% towards black.
  const light = (cr + cg + cb) / 3 < 150;
  const mix = (c: number): number => (light ? c + (255 - c) * 0.7 : c * 0.45);
  const pr = mix(cr);
  const pg = mix(cg);
  const pb = mix(cb);
  const scale = FMNIST_SIDE / g.size;
  const x1 = Math.min(width, g.x + g.size);
  const y1 = Math.min(height, g.y + g.size);
  for (let y = Math.max(0, g.y); y < y1; y++) {
    const v = y - g.y;
    const sy = Math.min(FMNIST_SIDE - 1, Math.max(0, (v + 0.5) * scale - 0.5));
    const y0 = Math.floor(sy);
    const yb = Math.min(FMNIST_SIDE - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = Math.max(0, g.x); x < x1; x++) {
      const u = x - g.x;
      const su = g.flip ? g.size - 1 - u : u;
      const sx = Math.min(FMNIST_SIDE - 1, Math.max(0, (su + 0.5) * scale - 0.5));
      const x0 = Math.floor(sx);
      const xb = Math.min(FMNIST_SIDE - 1, x0 + 1);
      const fx = sx - x0;
      const top = (src[y0 * FMNIST_SIDE + x0] as number) * (1 - fx) + (src[y0 * FMNIST_SIDE + xb] as number) * fx;
      const bottom = (src[yb * FMNIST_SIDE + x0] as number) * (1 - fx) + (src[yb * FMNIST_SIDE + xb] as number) * fx;
      const intensity = top * (1 - fy) + bottom * fy;
      // Soft mask: faint pixels are background, anything above ~70 fully garment.
      const alpha = Math.min(1, Math.max(0, (intensity - 12) / 60));
      if (alpha <= 0) continue;
      const shade = 0.55 + 0.45 * (intensity / 255);
      const pat = onPattern(g.pattern, u, v, g.size);
      const o = (y * width + x) * 3;
      rgb[o] = Math.round((rgb[o] as number) * (1 - alpha) + (pat ? pr : cr) * shade * alpha);
      rgb[o + 1] = Math.round((rgb[o + 1] as number) * (1 - alpha) + (pat ? pg : cg) * shade * alpha);
      rgb[o + 2] = Math.round((rgb[o + 2] as number) * (1 - alpha) + (pat ? pb : cb) * shade * alpha);
    }
  }
}

/** Raw RGB bytes (width * height * 3) of the scene on a white canvas. */
export function renderScene(scene: Scene, classes: readonly FmnistClass[]): Uint8Array {
  const rgb = new Uint8Array(scene.width * scene.height * 3).fill(255);
  for (const g of scene.garments) {
    const cls = classes[g.category];
    if (!cls) throw new Error(`internal error: no Fashion-MNIST class ${g.category}`);
    paintGarment(rgb, scene.width, scene.height, g, fmnistImage(cls, g.source));
  }
  return rgb;
}
