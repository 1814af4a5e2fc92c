/**
 * `extends: parent.yaml`: a pipeline built on another one. The parent (itself possibly extending
 * another) is loaded first and the child merged over it: vars deep-merged, stages overridden or
 * added by name with params/resources/verify deep-merged, `name: null` removes a parent's stage.
 * Positions stay with whichever file each value came from.
 */
import { dirname, resolve } from 'node:path';
import { err, ok, type Result } from '../result.js';
import { displayFile, error } from './diagnostics.js';
import { kindName, type PEntry, type PMap, type PNode } from './tree.js';
import { readPipelineTree } from './tree-cache.js';
import type { Diagnostic, SourcePos } from './types.js';

export interface Merged {
  root: PNode;
  /** The file and every file it extends, child first (absolute paths). */
  sources: string[];
}

/** Stage keys whose maps merge key by key instead of being replaced. */
const DEEP_STAGE_KEYS = new Set(['params', 'resources', 'verify']);

function deepMerge(parent: PNode, child: PNode): PNode {
  if (parent.kind !== 'map' || child.kind !== 'map') return child;
  const entries = new Map(parent.entries);
  for (const [key, ce] of child.entries) {
    const pe = entries.get(key);
    entries.set(key, pe ? { ...ce, value: deepMerge(pe.value, ce.value) } : ce);
  }
  return { ...child, entries };
}

function mergeStage(parent: PNode, child: PNode): PNode {
  if (parent.kind !== 'map' || child.kind !== 'map') return child;
  const entries = new Map(parent.entries);
  // A child that says how to run the stage replaces the parent's way (uses <-> cmd).
  if (child.entries.has('uses') || child.entries.has('cmd')) {
    entries.delete('uses');
    entries.delete('cmd');
  }
  for (const [key, ce] of child.entries) {
    const pe = entries.get(key);
    entries.set(key, pe && DEEP_STAGE_KEYS.has(key) ? { ...ce, value: deepMerge(pe.value, ce.value) } : ce);
  }
  return { ...child, entries };
}

function mergeStages(parent: PNode, child: PNode): PNode {
  if (parent.kind !== 'map' || child.kind !== 'map') return child;
  const entries = new Map(parent.entries);
  for (const [name, ce] of child.entries) {
    const pe = entries.get(name);
    if (pe && ce.value.kind === 'scalar' && ce.value.value === null) entries.delete(name);
    else entries.set(name, pe ? { ...ce, value: mergeStage(pe.value, ce.value) } : ce);
  }
  return { ...child, entries };
}

/** The child's top level over the parent's (the child's `extends` already consumed). */
export function mergePipelines(parent: PNode, child: PMap): PMap {
  if (parent.kind !== 'map') return child;
  const entries = new Map<string, PEntry>(parent.entries);
  for (const [key, ce] of child.entries) {
    if (key === 'extends') continue;
    const pe = entries.get(key);
    if (pe && key === 'vars') entries.set(key, { ...ce, value: deepMerge(pe.value, ce.value) });
    else if (pe && key === 'stages') entries.set(key, { ...ce, value: mergeStages(pe.value, ce.value) });
    else entries.set(key, ce);
  }
  entries.delete('extends');
  return { ...child, entries };
}

function loadChain(
  file: string,
  chain: string[],
  at: SourcePos | undefined,
  cacheDir: string | undefined,
): Result<Merged, Diagnostic[]> {
  const read = readPipelineTree(file, cacheDir, at, at ? 'extends' : '');
  if (!read.ok) return read;
  const root = read.value;
  const ext = root.kind === 'map' ? root.entries.get('extends') : undefined;
  if (root.kind !== 'map' || !ext) return ok({ root, sources: [file] });
  const v = ext.value;
  if (v.kind !== 'scalar' || typeof v.value !== 'string' || v.value.trim() === '') {
    return err([error(`extends must be a file name, got ${kindName(v)}`, v.pos, 'extends')]);
  }
  const parentFile = resolve(dirname(file), v.value);
  if (chain.includes(parentFile)) {
    const loop = [...chain.slice(chain.indexOf(parentFile)), parentFile].map(displayFile);
    return err([error(`extends cycle: ${loop.join(' -> ')}`, v.pos, 'extends')]);
  }
  const parent = loadChain(parentFile, [...chain, parentFile], v.pos, cacheDir);
  if (!parent.ok) return parent;
  return ok({ root: mergePipelines(parent.value.root, root), sources: [file, ...parent.value.sources] });
}

/** Read a pipeline file and everything it `extends`, merged into one tree (parsed trees cached in `cacheDir`). */
export function loadMerged(file: string, cacheDir?: string): Result<Merged, Diagnostic[]> {
  const abs = resolve(file);
  return loadChain(abs, [abs], undefined, cacheDir);
}
