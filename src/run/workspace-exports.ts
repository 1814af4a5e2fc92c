/**
 * `export:` with a memory. tailor records what it wrote to each export target (the index's
 * exports table), so it can tell a target that is simply out of date (rewrite it) from one a
 * person edited since (keep it and say so, unless `--overwrite-exports`), and `status` can say
 * that a deleted export will be restored. The copying itself is export-outputs.ts.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Pipeline, StageSpec } from '../pipeline/types.js';
import type { Session } from './session.js';
import { describeError } from './describe-error.js';
import { ExportError, exportOutputs } from './export-outputs.js';

export type ExportState =
  /** The target holds exactly the output's file. */
  | { state: 'current'; hash: string }
  /** No target yet: a run writes it. */
  | { state: 'missing'; hash: string }
  /** The target is what tailor last wrote and the output changed since: a run rewrites it. */
  | { state: 'outdated'; hash: string }
  /** The target differs from what tailor last wrote: someone edited it; a run keeps it. */
  | { state: 'edited'; hash: string }
  /** The target exists, but tailor (with this cache) never wrote it: a run replaces it, saying so. */
  | { state: 'foreign'; hash: string }
  /** The export cannot be done (no such file in the output, an unreadable target). */
  | { state: 'unusable'; message: string };

/** Where an export goes and what is there now. */
export async function checkExport(
  session: Session,
  pipeline: Pipeline,
  from: string,
  to: string,
  outDir: string,
): Promise<ExportState> {
  const target = resolve(pipeline.workdir, to);
  let source;
  let there;
  try {
    source = await session.hasher.hashPath(join(outDir, from), { fresh: true });
  } catch (e) {
    return { state: 'unusable', message: `export ${from}: ${describeError(e)}` };
  }
  if (source.kind === 'missing')
    return { state: 'unusable', message: `export ${from}: ${await whyMissing(outDir, from)}` };
  if (source.kind === 'dir')
    return { state: 'unusable', message: `export ${from}: is a folder; export copies one file` };
  try {
    there = await session.hasher.hashPath(target, { fresh: true });
  } catch (e) {
    return { state: 'unusable', message: `export ${from} -> ${to}: ${describeError(e)}` };
  }
  const hash = source.hash;
  if (there.kind === 'missing') return { state: 'missing', hash };
  if (there.kind === 'dir') return { state: 'unusable', message: `export ${from} -> ${to}: ${to} is a folder` };
  if (there.hash === hash && there.kind === source.kind) return { state: 'current', hash };
  const wrote = session.index.outputs.getExport(target);
  if (!wrote) return { state: 'foreign', hash };
  return wrote.hash === there.hash ? { state: 'outdated', hash } : { state: 'edited', hash };
}

/** Why an export source is not there: never written, or a link that leads nowhere. */
async function whyMissing(outDir: string, from: string): Promise<string> {
  const path = join(outDir, from);
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isSymbolicLink()) return `the stage wrote no ${from}`;
  const target = await readlink(path).catch(() => '?');
  return `${from} is a link to ${target}, which does not exist`;
}

/** What `status` says about a fresh stage's exports (nothing when they are all current). */
export async function exportNotes(
  session: Session,
  pipeline: Pipeline,
  spec: StageSpec,
  outDir: string,
): Promise<string[]> {
  const notes: string[] = [];
  for (const [from, to] of Object.entries(spec.export)) {
    const s = await checkExport(session, pipeline, from, to, outDir);
    if (s.state === 'missing') notes.push(`export ${to} is missing: \`tailor run\` will restore it`);
    else if (s.state === 'outdated') notes.push(`export ${to} is out of date: \`tailor run\` will rewrite it`);
    else if (s.state === 'edited')
      notes.push(
        `export ${to} was changed since tailor wrote it: \`tailor run\` keeps it (--overwrite-exports replaces it)`,
      );
    else if (s.state === 'foreign')
      notes.push(`export ${to} was not written by tailor: \`tailor run\` will replace it`);
    else if (s.state === 'unusable') notes.push(s.message);
  }
  return notes;
}

export interface ExportRun {
  session: Session;
  pipeline: Pipeline;
  /** Replace targets a person edited. */
  overwrite: boolean;
  notice(message: string): void;
}

/**
 * Write a stage's exports from its committed output folder. Resolves with the failure message of
 * the first export that cannot be done, or undefined when all are done (or kept on purpose).
 */
export async function writeExports(run: ExportRun, spec: StageSpec, outDir: string): Promise<string | undefined> {
  const { session, pipeline } = run;
  for (const [from, to] of Object.entries(spec.export)) {
    const s = await checkExport(session, pipeline, from, to, outDir);
    if (s.state === 'unusable') return s.message;
    const target = resolve(pipeline.workdir, to);
    const remember = () =>
      session.index.outputs.putExport({
        path: target,
        hash: s.hash,
        pipeline: pipeline.name,
        stage: spec.name,
        writtenAt: Date.now(),
      });
    if (s.state === 'current') {
      if (session.index.outputs.getExport(target)?.hash !== s.hash) remember();
      continue;
    }
    if (s.state === 'edited' && !run.overwrite) {
      run.notice(`kept ${to}: it was changed since tailor wrote it (delete it, or run with --overwrite-exports)`);
      continue;
    }
    if (s.state === 'foreign') run.notice(`replacing ${to}, which tailor had not written`);
    try {
      await exportOutputs({ ...spec, export: { [from]: to } }, outDir, pipeline.workdir);
    } catch (e) {
      return e instanceof ExportError ? e.message : `export ${from} -> ${to}: ${describeError(e)}`;
    }
    remember();
  }
  return undefined;
}
