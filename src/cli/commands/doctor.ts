/** `tailor doctor`: which ML backend runs and why not the others, versions, and the cache's health. */
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, openSession, printJson } from '../common.js';
import { TAILOR_ROOT } from '../../paths.js';
import { readRunLock } from '../../cache/run-lock.js';
import { detectGpus } from '../../run/gpu-pool.js';
import { doctor, formatDoctor } from '../../ml/backend-doctor.js';

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' }, cache: { type: 'string' } } });
  const ml = await doctor();
  const session = await openSession(values.cache);
  try {
    const objects = countObjects(join(session.cacheDir, 'objects'));
    const temp = existsSync(join(session.cacheDir, 'tmp')) ? readdirSync(join(session.cacheDir, 'tmp')).length : 0;
    const holder = readRunLock(session.cacheDir);
    const integrity = quickCheck(join(session.cacheDir, 'index.sqlite'));
    const report = {
      tailor: (JSON.parse(readFileSync(join(TAILOR_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      node: process.version,
      gpus: detectGpus(),
      ml,
      cache: {
        dir: session.cacheDir,
        objects,
        unfinishedOutputs: temp,
        runs: session.index.listRuns({ limit: 1_000_000 }).length,
        lock: holder?.message ?? null,
        integrity,
      },
    };
    if (values.json) printJson(report);
    else {
      const lines = [
        `tailor ${report.tailor} on Node ${report.node}`,
        `GPUs visible: ${report.gpus}`,
        ...formatDoctor(ml),
        `cache: ${report.cache.dir}`,
        `  objects: ${objects}, runs recorded: ${report.cache.runs}, unfinished outputs: ${temp}${temp ? ' (removed by the next run)' : ''}`,
        `  index integrity: ${integrity}`,
        `  lock: ${holder ? holder.message : 'free'}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
    return integrity === 'ok' ? EXIT.ok : EXIT.failed;
  } finally {
    session.close();
  }
}

function countObjects(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((n, shard) => n + readdirSync(join(dir, shard)).length, 0);
}

/** SQLite's own consistency check of the index, on a separate read-only connection. */
function quickCheck(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('quick_check', { simple: true }));
  } finally {
    db.close();
  }
}
