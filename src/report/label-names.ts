/** Readable label names from a label map CSV (`labelId,taskId,labelName,taskName`) if any stage has one. */
import { join } from 'node:path';
import { parseLabelMap } from '../formats/label-map.js';
import { withOutput, type ReportData } from './report-data.js';
import { readSmallText, topLevelFiles } from './stage-files.js';

export type LabelNames = (id: string) => string;

/** `id → "name (id)"` from the first stage output holding a label map; ids without a name stay ids. */
export async function loadLabelNames(data: ReportData): Promise<LabelNames> {
  for (const s of withOutput(data)) {
    const name = (await topLevelFiles(s.out)).find((f) => /^label[-_]?map\.csv$/i.test(f));
    const text = name && (await readSmallText(join(s.out, name)));
    if (!text) continue;
    let map: Map<string, string>;
    try {
      map = parseLabelMap(text);
    } catch {
      continue; // not the columns of a label map: look further
    }
    return (x) => {
      const n = map.get(x);
      return n ? `${n} (${x})` : x;
    };
  }
  return (x) => x;
}
