/** A stage output's metrics: its top-level `metrics.json` as an object, `{}` when absent or not an object. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { METRICS_FILE } from './content-hash.js';

export async function readOutputMetrics(outDir: string): Promise<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(await readFile(join(outDir, METRICS_FILE), 'utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
