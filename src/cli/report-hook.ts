/** Writing the HTML report of a pipeline: used by `tailor report` and by `tailor run --report`. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Pipeline } from '../pipeline/types.js';
import { buildReport } from '../report/index.js';
import { openSession } from './common.js';

/** Where the report goes when no --out is given: `outputs/<pipeline>-report.html` in the workdir. */
export function defaultReportPath(pipeline: Pipeline): string {
  return resolve(pipeline.workdir, 'outputs', `${pipeline.displayName}-report.html`);
}

export interface ReportOptions {
  /** `STAGE.path` of the metric to compare experiment runs by. */
  metric?: string;
}

/**
 * Write the report of `pipeline` from the cache (`cacheFlag`, else $TAILOR_CACHE, else ./cache)
 * to `out` (relative to the pipeline's workdir; default `outputs/<pipeline>-report.html`).
 * Written to a temporary name and renamed, so a reader never sees half a page.
 * Returns the absolute path written.
 */
export async function writeReportFor(
  pipeline: Pipeline,
  cacheFlag?: string,
  out?: string,
  options: ReportOptions = {},
): Promise<string> {
  const path = out ? resolve(pipeline.workdir, out) : defaultReportPath(pipeline);
  const session = await openSession(cacheFlag, pipeline.workdir);
  let html: string;
  try {
    html = await buildReport(session, pipeline, { metric: options.metric });
  } finally {
    session.close();
  }
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, html);
  await rename(tmp, path);
  return path;
}
