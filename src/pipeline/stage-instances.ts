/**
 * From the `stages` map to concrete stage instances: foreach groups expanded, every field templated
 * with vars and the item (except `cmd`, templated last, once params and needs are final), `--set`
 * overrides applied to params, each body checked against the stage schema.
 */
import { error, keyPath } from './diagnostics.js';
import { foreachMembers, type ForeachMember } from './foreach.js';
import { setTarget, stageBodyPath, withPath, isVarSet, type SetOverride } from './set-overrides.js';
import { templateNode, type Scope } from './template.js';
import { fromJS, toJS, type PEntry, type PMap, type PNode } from './tree.js';
import type { Diagnostic, SourcePos } from './types.js';
import { validateStageBody } from './validate.js';
import type { ResolvedVars } from './vars.js';

export interface Instance {
  name: string;
  group: string;
  /** Present for foreach members. */
  item?: { value: unknown };
  /** The templated body (its `cmd` still raw), `foreach` removed. */
  body: PMap;
  /** Position of the stage's key in `stages`. */
  keyPos: SourcePos;
  /** False when the body failed the schema: later checks skip it to avoid follow-on noise. */
  valid: boolean;
  /** Plain data of `body`, set once it is final (after `--set`). */
  plain?: Record<string, unknown>;
  /** The `--set` overrides applied to its params, and whether each param was in the YAML already. */
  sets?: Array<{ override: SetOverride; path: string[]; existed: boolean }>;
}

/** Whether `path` names something under the `params` map of `body`. */
function hasParam(body: PMap, path: string[]): boolean {
  let node: PNode | undefined = body.entries.get('params')?.value;
  for (const seg of path) {
    if (node?.kind !== 'map') return false;
    node = node.entries.get(seg)?.value;
  }
  return node !== undefined;
}

/** Template a stage body except `cmd` and `foreach`. */
function templateBody(group: string, body: PMap, scope: Scope, diags: Diagnostic[]): PMap {
  const entries = new Map<string, PEntry>();
  for (const [key, e] of body.entries) {
    if (key === 'foreach') continue;
    entries.set(key, key === 'cmd' ? e : { ...e, value: templateNode(e.value, ['stages', group, key], scope, diags) });
  }
  return { ...body, entries };
}

/** Expand and template every stage, in file order. */
export function expandStages(stages: PMap, vars: ResolvedVars, diags: Diagnostic[]): Instance[] {
  const out: Instance[] = [];
  for (const [group, e] of stages.entries) {
    const body = e.value;
    if (body.kind !== 'map') {
      diags.push(...validateStageBody(body, group, e.keyPos));
      continue;
    }
    const fe = body.entries.get('foreach');
    let members: ForeachMember[] | undefined = [{ name: group, item: undefined }];
    if (fe)
      members = foreachMembers(
        group,
        templateNode(fe.value, ['stages', group, 'foreach'], { vars: vars.lookup }, diags),
        diags,
      );
    for (const m of members ?? []) {
      const scope: Scope = fe ? { vars: vars.lookup, item: { value: m.item } } : { vars: vars.lookup };
      const inst: Instance = {
        name: m.name,
        group,
        body: templateBody(group, body, scope, diags),
        keyPos: e.keyPos,
        valid: true,
      };
      if (fe) inst.item = { value: m.item };
      out.push(inst);
    }
  }
  return out;
}

/** Stage names and group names, for `--set` and `needs` lookups. */
export function allNames(instances: Instance[]): Set<string> {
  const names = new Set<string>();
  for (const i of instances) {
    names.add(i.name);
    names.add(i.group);
  }
  return names;
}

/** Apply `STAGE.KEY=VALUE` overrides to params, or to a stage key (a group name reaches every member). */
export function applyStageSets(
  instances: Instance[],
  overrides: SetOverride[],
  knownGroups: Iterable<string>,
  diags: Diagnostic[],
): void {
  if (overrides.every(isVarSet)) return;
  const names = allNames(instances);
  for (const g of knownGroups) names.add(g);
  for (const o of overrides) {
    if (isVarSet(o)) continue;
    const target = setTarget(o, names, diags);
    if (!target) continue;
    const value: PNode = fromJS(o.value, o.valuePos);
    for (const inst of instances) {
      if (inst.name !== target.stage && inst.group !== target.stage) continue;
      const bodyPath = stageBodyPath(target.path);
      const r = withPath(inst.body, bodyPath, o.keyPos, value);
      if ('error' in r)
        diags.push(
          error(
            `--set ${o.arg}: ${r.error} in stages.${inst.name}.params`,
            o.keyPos,
            keyPath('stages', inst.group, ...bodyPath),
          ),
        );
      else {
        // A stage key is checked by the stage schema and the loader (shards: stage-shards.ts), not as a param.
        if (bodyPath[0] === 'params')
          (inst.sets ??= []).push({ override: o, path: target.path, existed: hasParam(inst.body, target.path) });
        inst.body = r;
      }
    }
  }
}

/** Check every body against the stage schema; marks invalid instances. */
export function validateInstances(instances: Instance[], diags: Diagnostic[]): void {
  for (const inst of instances) {
    const plain = toJS(inst.body) as Record<string, unknown>;
    inst.plain = plain;
    const found = validateStageBody(inst.body, inst.group, inst.keyPos, plain);
    if (found.length > 0) {
      inst.valid = false;
      diags.push(...found);
    }
  }
}
