/**
 * `tailor doctor`: which ML backend runs and why not the others, versions, and the cache's
 * health; `--repair-index` rebuilds a damaged index from the rows still readable. A damaged
 * index is reported (with the repair command), never a stack trace: the health tool must work
 * on the cache it is asked about.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, printHelp, printJson } from '../common.js';
import { SPECS } from '../command-specs.js';
import { parseCommand } from '../options.js';
import { TAILOR_ROOT } from '../../paths.js';
import { INDEX_FILE } from '../../cache/index-db.js';
import { checkIndexFile, repairIndex } from '../../cache/index-repair.js';
import { acquireRunLock, readRunLock } from '../../cache/run-lock.js';
import { deepCheck } from '../../cache/deep-check.js';
import { detectGpus } from '../../run/gpu-pool.js';
import { cacheDirFrom, Session } from '../../run/session.js';
import { doctor, formatDoctor } from '../../ml/backend-doctor.js';

export async function doctorCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(SPECS.doctor, argv);
  if (parsed.help) return printHelp(SPECS.doctor);
  const { values } = parsed;
  const cacheDir = cacheDirFrom(values.cache, process.cwd());
  if (values['repair-index']) return repair(cacheDir);
  if (values.deep) return deepDoctor(cacheDir, values['dry-run'] ?? false, values.json ?? false);
  const ml = await doctor();
  const indexFile = join(cacheDir, INDEX_FILE);
  const integrity = existsSync(indexFile) ? checkIndexFile(indexFile) : 'ok';
  const runs = integrity === 'ok' ? await countRuns(cacheDir) : undefined;
  const objects = countObjects(join(cacheDir, 'objects'));
  const temp = existsSync(join(cacheDir, 'tmp')) ? readdirSync(join(cacheDir, 'tmp')).length : 0;
  const holder = readRunLock(cacheDir);
  const report = {
    tailor: (JSON.parse(readFileSync(join(TAILOR_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    node: process.version,
    gpus: detectGpus(),
    ml,
    cache: {
      dir: cacheDir,
      objects,
      unfinishedOutputs: temp,
      runs: runs ?? null,
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
      `cache: ${cacheDir}`,
      `  objects: ${objects}, runs recorded: ${runs ?? 'unknown'}, unfinished outputs: ${temp}${temp ? ' (removed by the next run)' : ''}`,
      `  index integrity: ${integrity}`,
      ...(integrity === 'ok' ? [] : [`  repair it with: tailor doctor --repair-index --cache ${cacheDir}`]),
      `  lock: ${holder ? holder.message : 'free'}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  return integrity === 'ok' ? EXIT.ok : EXIT.failed;
}

async function countRuns(cacheDir: string): Promise<number | undefined> {
  try {
    const session = await Session.open(cacheDir);
    try {
      return session.index.runs.listRuns({ limit: 1_000_000 }).length;
    } finally {
      session.close();
    }
  } catch {
    return undefined;
  }
}

async function repair(cacheDir: string): Promise<number> {
  const lock = await acquireRunLock(cacheDir, { waitSeconds: 0 });
  if (!lock.ok) {
    process.stderr.write(`tailor doctor: the cache is in use (${lock.error.message}); try again when it is done\n`);
    return EXIT.locked;
  }
  try {
    const r = repairIndex(cacheDir);
    const copied = Object.entries(r.copied)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    process.stdout.write(
      `tailor doctor: new index written; rows kept: ${copied || 'none'}\n` +
        `  the damaged file is ${r.movedTo}\n` +
        (r.damaged.length > 0 ? `  unreadable past the damage: ${r.damaged.join(', ')} (those rows are lost)\n` : '') +
        `  stages whose record was lost run again on the next \`tailor run\`\n`,
    );
    return EXIT.ok;
  } finally {
    lock.value.release();
  }
}

function countObjects(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const shard of readdirSync(dir)) {
    try {
      n += readdirSync(join(dir, shard)).length;
    } catch {
      // a stray file among the shard folders
    }
  }
  return n;
}

/** `tailor doctor --deep [--dry-run]`, under the run lock when it drops objects. */
async function deepDoctor(cacheDir: string, dryRun: boolean, json: boolean): Promise<number> {
  const session = await Session.open(cacheDir);
  const lock = dryRun ? undefined : await acquireRunLock(session.cacheDir, { waitSeconds: 0 });
  try {
    if (lock && !lock.ok) {
      process.stderr.write(
        `tailor doctor: the cache is in use by pid ${lock.error.pid} on ${lock.error.host}; try again when it is done\n`,
      );
      return EXIT.locked;
    }
    const r = await deepCheck(session.index, session.local, { dryRun });
    if (json) printJson(r);
    else {
      const verb = dryRun ? 'found (not removed; run without --dry-run to drop them)' : 'dropped';
      const lines = [
        `deep check: ${r.checked} object(s), ${(r.bytes / 1e6).toFixed(1)} MB read, ${r.bad.length} bad ${verb}`,
      ];
      for (const b of r.bad)
        lines.push(
          `  ${b.treeHash.slice(0, 12)} ${b.problem}${b.detail ? ` (${b.detail})` : ''}, ${b.records} record(s)`,
        );
      process.stdout.write(lines.join('\n') + '\n');
    }
    return r.bad.length === 0 ? EXIT.ok : EXIT.failed;
  } finally {
    if (lock?.ok) lock.value.release();
    session.close();
  }
}
