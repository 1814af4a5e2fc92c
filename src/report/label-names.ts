/** Readable label names from a label map CSV (`labelId,taskId,labelName,taskName`) if any stage has one. */
import { join } from 'node:path';
import { columnOf } from './csv.js';
import { withOutput, type ReportData } from './model.js';
import { readCsv, topLevelFiles } from './stage-files.js';

export type LabelNames = (id: string) => string;

/** `id → "name"` from the first stage output holding a label map; ids without a name stay ids. */
export async function loadLabelNames(data: ReportData): Promise<LabelNames> {
  for (const s of withOutput(data)) {
    const name = (await topLevelFiles(s.out)).find((f) => /^label[-_]?map\.csv$/i.test(f));
    if (!name) continue;
    const t = await readCsv(join(s.out, name));
    if (!t) continue;
    const id = columnOf(t, 'labelid', 'label_id', 'id');
    const label = columnOf(t, 'labelname', 'label_name', 'name');
    if (id < 0 || label < 0) continue;
    const map = new Map(t.rows.map((r) => [r[id] ?? '', r[label] ?? '']));
    return (x) => {
      const n = map.get(x);
      return n ? `${n} (${x})` : x;
    };
  }
  return (x) => x;
}
