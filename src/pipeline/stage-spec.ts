/** The final StageSpec of one instance: plain values plus where each key was written. */
import { statSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import { error, keyPath } from './diagnostics.js';
import type { ModuleRef } from './modules.js';
import type { Instance } from './stage-instances.js';
import { toJS, type PNode } from './tree.js';
import type { Diagnostic, SourcePos, StageSpec } from './types.js';
import { parseDuration } from './duration.js';
import { checkShards } from './stage-shards.js';

/** Lists longer than this keep one position for the whole list, not one per item. */
const MAX_POSITIONED_ITEMS = 100;

/** Record key and value positions of every key under `node`, dotted paths relative to the stage. */
function flatten(
  node: PNode,
  prefix: string,
  keyPos: Record<string, SourcePos>,
  valuePos: Record<string, SourcePos>,
): void {
  if (node.kind === 'map') {
    for (const [key, e] of node.entries) {
      const path = prefix ? `${prefix}.${key}` : key;
      keyPos[path] = e.keyPos;
      valuePos[path] = e.value.pos;
      flatten(e.value, path, keyPos, valuePos);
    }
  } else if (node.kind === 'seq' && node.items.length <= MAX_POSITIONED_ITEMS) {
    node.items.forEach((item, i) => {
      const path = `${prefix}.${i}`;
      keyPos[path] = item.pos;
      valuePos[path] = item.pos;
      flatten(item, path, keyPos, valuePos);
    });
  }
}

/** Whether a relative path stays inside its base folder. */
function staysInside(p: string): boolean {
  const n = normalize(p);
  return !isAbsolute(p) && n !== '..' && !n.startsWith('../') && !n.startsWith('..\\');
}

/** Export paths must stay inside the output folder (source) and the working folder (target). */
function checkExports(inst: Instance, diags: Diagnostic[]): void {
  const exp = inst.body.entries.get('export')?.value;
  if (exp?.kind !== 'map') return;
  for (const [from, e] of exp.entries) {
    const key = keyPath('stages', inst.group, 'export', from);
    if (!staysInside(from))
      diags.push(error(`export source "${from}" must be a path inside the stage's output folder`, e.keyPos, key));
    const to = e.value.kind === 'scalar' ? String(e.value.value) : '';
    if (!staysInside(to))
      diags.push(error(`export target "${to}" must be a path inside the working folder`, e.value.pos, key));
  }
}

/**
 * Every `deps` path must exist and be a file or a folder (links followed): a missing one would be
 * hashed as "missing" and the stage would run on nothing. Checked when the pipeline is loaded, so
 * `status`, `run`, `dag` and `watch` all say so, at the path's position. An empty entry (a var
 * left unset, such as an optional `label_map`) names nothing and is dropped.
 */
function checkDeps(inst: Instance, workdir: string, diags: Diagnostic[]): void {
  const deps = inst.body.entries.get('deps')?.value;
  if (deps?.kind !== 'seq') return;
  deps.items.forEach((item, i) => {
    if (item.kind !== 'scalar' || typeof item.value !== 'string' || item.value === '') return;
    const key = keyPath('stages', inst.group, 'deps', i);
    const st = statSync(resolve(workdir, item.value), { throwIfNoEntry: false });
    if (!st) diags.push(error(`deps path "${item.value}" does not exist (relative to ${workdir})`, item.pos, key));
    else if (!st.isFile() && !st.isDirectory())
      diags.push(
        error(
          `deps path "${item.value}" is not a file or folder (a device, FIFO or socket cannot be hashed)`,
          item.pos,
          key,
        ),
      );
  });
}

function get(inst: Instance, key: string): unknown {
  if (inst.plain) return inst.plain[key];
  const e = inst.body.entries.get(key);
  return e ? toJS(e.value) : undefined;
}

/** Build the StageSpec; `cmd` is the templated command for cmd stages. */
export function buildSpec(
  inst: Instance,
  needs: string[],
  mod: ModuleRef | undefined,
  cmd: string | undefined,
  pipelineSeed: number,
  diags: Diagnostic[],
  workdir: string,
): StageSpec {
  checkExports(inst, diags);
  checkDeps(inst, workdir, diags);
  const keyPos: Record<string, SourcePos> = {};
  const valuePos: Record<string, SourcePos> = {};
  flatten(inst.body, '', keyPos, valuePos);
  const resources = get(inst, 'resources') as { gpu?: number } | undefined;
  const seed = get(inst, 'seed');
  const spec: StageSpec = {
    name: inst.name,
    group: inst.group,
    kind: cmd === undefined ? 'module' : 'cmd',
    needs,
    deps: ((get(inst, 'deps') as string[] | undefined) ?? []).filter((d) => d !== ''),
    params: (get(inst, 'params') as Record<string, unknown> | undefined) ?? {},
    export: (get(inst, 'export') as Record<string, string> | undefined) ?? {},
    resources: { gpu: resources?.gpu ?? 0 },
    seed: typeof seed === 'number' ? seed : pipelineSeed,
    pos: inst.keyPos,
    keyPos,
    valuePos,
  };
  if (mod) {
    spec.module = mod.module;
    spec.builtin = mod.builtin;
  }
  if (cmd !== undefined) spec.cmd = cmd;
  const timeout = get(inst, 'timeout');
  if (typeof timeout === 'number' || typeof timeout === 'string') spec.timeoutSeconds = parseDuration(timeout);
  const shards = checkShards(inst, get(inst, 'shards'), mod, cmd !== undefined, diags);
  if (shards > 1) spec.shards = shards;
  const verify = get(inst, 'verify');
  if (verify !== undefined) spec.verify = verify as StageSpec['verify'];
  const description = get(inst, 'description');
  if (typeof description === 'string') spec.description = description;
  if (inst.item) spec.item = inst.item.value;
  return spec;
}
