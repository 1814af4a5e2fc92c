/**
 * Random scenes of the demo dataset: a white canvas of varied size and aspect with 1-4 garments,
 * each with a category, a colour, a pattern and a place in its own grid cell (so garments never
 * overlap and each stays recognisable). The draws are long-tailed like the real labels: a few
 * categories and colours are common, many combinations are rare.
 */
import { FMNIST_CLASSES } from './fmnist.js';
import { GARMENT_COLOURS } from './garment-colours.js';
import { MAX_GARMENTS, PATTERNS, type Pattern, type Taxonomy } from './mosaic-taxonomy.js';

export interface Garment {
  category: number;
  colour: number;
  pattern: Pattern;
  /** Index of the Fashion-MNIST image within its class. */
  source: number;
  /** Top-left corner and side of the garment's square on the canvas (px). */
  x: number;
  y: number;
  size: number;
  flip: boolean;
}

export interface Scene {
  width: number;
  height: number;
  garments: Garment[];
}

export interface SceneOptions {
  minSide: number;
  maxSide: number;
  /** The [start, end) source range of each class for this image's set. */
  pools: ReadonlyArray<readonly [number, number]>;
}

/** Zipf-like weights: w_r = 1 / (r + 1)^s for ranks r = 0.. in the given order. */
function zipf(n: number, s: number): number[] {
  return Array.from({ length: n }, (_, r) => 1 / Math.pow(r + 1, s));
}

/** Category ranks by prevalence (class ids), then weights in class-id order. */
const CATEGORY_RANK = [0, 3, 1, 7, 6, 2, 4, 8, 5, 9];
const CATEGORY_WEIGHTS: number[] = (() => {
  const w = new Array<number>(FMNIST_CLASSES.length).fill(0);
  const z = zipf(CATEGORY_RANK.length, 0.9);
  CATEGORY_RANK.forEach((c, r) => (w[c] = z[r] as number));
  return w;
})();
const COLOUR_WEIGHTS = zipf(GARMENT_COLOURS.length, 1.15);
const PATTERN_WEIGHTS: Record<Pattern, number> = { plain: 0.72, stripes: 0.14, dots: 0.09, checks: 0.05 };
/** P(n garments) for n = 1..4. */
const COUNT_WEIGHTS = [0.56, 0.26, 0.12, 0.06];

/** Draw an index with probability proportional to its weight. */
export function pickWeighted(weights: readonly number[], rand: () => number): number {
  let total = 0;
  for (const w of weights) total += w;
  let u = rand() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i] as number;
    if (u < 0) return i;
  }
  return weights.length - 1;
}

function intBetween(lo: number, hi: number, rand: () => number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** Grid (columns x rows) for n garments on a canvas of this aspect. */
function grid(n: number, width: number, height: number): [number, number] {
  const wide = width >= height;
  switch (n) {
    case 1:
      return [1, 1];
    case 2:
      return wide ? [2, 1] : [1, 2];
    case 3: {
      const ratio = Math.max(width, height) / Math.min(width, height);
      if (ratio >= 1.6) return wide ? [3, 1] : [1, 3];
      return [2, 2];
    }
    default:
      return [2, 2];
  }
}

/** Draw one scene. The same `rand` stream always gives the same scene. */
export function drawScene(rand: () => number, opts: SceneOptions): Scene {
  const width = intBetween(opts.minSide, opts.maxSide, rand);
  const height = intBetween(opts.minSide, opts.maxSide, rand);
  const n = pickWeighted(COUNT_WEIGHTS, rand) + 1;
  const [cols, rows] = grid(n, width, height);
  // Which cells hold a garment (3 garments in a 2x2 grid leave one cell empty).
  const cells = Array.from({ length: cols * rows }, (_, i) => i);
  while (cells.length > n) cells.splice(Math.floor(rand() * cells.length), 1);
  const cw = width / cols;
  const ch = height / rows;
  const garments: Garment[] = cells.map((cell) => {
    const category = pickWeighted(CATEGORY_WEIGHTS, rand);
    const colour = pickWeighted(COLOUR_WEIGHTS, rand);
    const pattern = PATTERNS[
      pickWeighted(
        PATTERNS.map((p) => PATTERN_WEIGHTS[p]),
        rand,
      )
    ] as Pattern;
    const [lo, hi] = opts.pools[category] ?? [0, 1];
    const source = lo + Math.floor(rand() * Math.max(1, hi - lo));
    const size = Math.max(2 * 28, Math.floor(Math.min(cw, ch) * (0.72 + 0.23 * rand())));
    const cx = (cell % cols) * cw;
    const cy = Math.floor(cell / cols) * ch;
    const x = Math.round(cx + Math.max(0, cw - size) * rand());
    const y = Math.round(cy + Math.max(0, ch - size) * rand());
    return { category, colour, pattern, source, x, y, size, flip: rand() < 0.5 };
  });
  return { width, height, garments };
}

/** The scene's label ids (unique, in numeric id order). */
export function sceneLabels(scene: Scene, tax: Taxonomy): string[] {
  const ids = new Set<string>();
  ids.add(tax.count[Math.min(scene.garments.length, MAX_GARMENTS) - 1] as string);
  for (const g of scene.garments) {
    ids.add(tax.category[g.category] as string);
    ids.add(tax.colour[g.colour] as string);
    const p = tax.pattern[PATTERNS.indexOf(g.pattern)];
    if (p !== undefined) ids.add(p);
    ids.add(tax.categoryColour[g.category]?.[g.colour] as string);
  }
  return [...ids].sort((a, b) => Number(a) - Number(b));
}
