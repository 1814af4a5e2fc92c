/**
 * The label taxonomy of the demo dataset, shaped like iMaterialist's (labels grouped in tasks,
 * string ids): garment category, colour, pattern, number of garments, and category x colour.
 * Every label can be read off the picture: which garments, in which colours and patterns, how many.
 */
import { csvLine } from '../formats/csv.js';
import { LABEL_MAP_HEADER } from '../formats/label-map.js';
import { FMNIST_CLASSES } from './fmnist.js';
import { GARMENT_COLOURS } from './garment-colours.js';

/** Garment surface patterns; `plain` carries no label (as "no pattern" has none in iMaterialist). */
export const PATTERNS = ['plain', 'stripes', 'dots', 'checks'] as const;
export type Pattern = (typeof PATTERNS)[number];

/** Most garments in one picture. */
export const MAX_GARMENTS = 4;

/** One row of the label map CSV. */
export interface LabelInfo {
  labelId: string;
  taskId: string;
  labelName: string;
  taskName: string;
}

/** Label ids by meaning, plus the flat list in id order. */
export interface Taxonomy {
  labels: LabelInfo[];
  category: string[];
  colour: string[];
  /** Indexed like PATTERNS; `undefined` for plain. */
  pattern: Array<string | undefined>;
  /** Index n-1 for n garments. */
  count: string[];
  /** `categoryColour[c][k]`. */
  categoryColour: string[][];
}

/** Build the taxonomy; ids are "1", "2", ... in task order, fixed for a given code version. */
export function buildTaxonomy(): Taxonomy {
  const labels: LabelInfo[] = [];
  const add = (taskId: string, taskName: string, labelName: string): string => {
    const labelId = String(labels.length + 1);
    labels.push({ labelId, taskId, labelName, taskName });
    return labelId;
  };
  const category = FMNIST_CLASSES.map((c) => add('1', 'category', c));
  const colour = GARMENT_COLOURS.map((c) => add('2', 'colour', c.name));
  const pattern = PATTERNS.map((p) => (p === 'plain' ? undefined : add('3', 'pattern', p)));
  const count = Array.from({ length: MAX_GARMENTS }, (_, i) =>
    add('4', 'count', i === 0 ? '1 item' : `${i + 1} items`),
  );
  const categoryColour = FMNIST_CLASSES.map((c) =>
    GARMENT_COLOURS.map((k) => add('5', 'category-colour', `${k.name} ${c}`)),
  );
  return { labels, category, colour, pattern, count, categoryColour };
}

/** The label map CSV (`labelId,taskId,labelName,taskName`). */
export function labelMapCsv(tax: Taxonomy): string {
  return (
    csvLine(LABEL_MAP_HEADER) + tax.labels.map((l) => csvLine([l.labelId, l.taskId, l.labelName, l.taskName])).join('')
  );
}
