/**
 * The iMaterialist label map CSV (`labelId,taskId,labelName,taskName`; DESIGN.md): label names
 * for tables and pictures. mosaic writes one as `label-map.csv`; the real challenge ships one.
 */
import { parseCsvTable, columnOf } from './csv.js';

/** File name of a label map in a stage's output folder. */
export const LABEL_MAP_FILE = 'label-map.csv';

/** Label id -> name from label map CSV text (header with `labelId` and `labelName`; a BOM is fine). */
export function parseLabelMap(text: string): Map<string, string> {
  const table = parseCsvTable(text);
  const idCol = columnOf(table, 'labelid');
  const nameCol = columnOf(table, 'labelname');
  if (idCol < 0 || nameCol < 0) throw new Error('label map CSV needs the columns labelId and labelName');
  const names = new Map<string, string>();
  for (const r of table.rows) {
    const id = r[idCol];
    if (id !== undefined && id !== '') names.set(id, r[nameCol] ?? '');
  }
  return names;
}

/** The label map CSV text for rows of `[labelId, taskId, labelName, taskName]`. */
export const LABEL_MAP_HEADER = ['labelId', 'taskId', 'labelName', 'taskName'] as const;
