/**
 * Loading a pipeline: YAML (+ `extends`) -> schema check -> vars and `--set` -> foreach expansion
 * and templating -> needs -> cmd templating -> modules -> topological order.
 *
 * Every user mistake becomes a Diagnostic with file, line, column and key path; the loader goes as
 * far as it sensibly can so one run reports as many independent errors as possible.
 */
import { existsSync } from 'node:fs';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { err, ok, type Result } from '../result.js';
import { SET_FILE, dedupe, keyPath } from './diagnostics.js';
import { loadMerged } from './extends.js';
import { isSafeStageName, MAX_STAGE_NAME, sanitizeStageRef } from './foreach.js';
import { ModuleResolver, type ModuleRef } from './modules.js';
import { resolveNeeds } from './needs.js';
import { applyVarSets, parseSets } from './set-overrides.js';
import { buildSpec } from './stage-spec.js';
import { applyStageSets, expandStages, validateInstances, type Instance } from './stage-instances.js';
import { templateCommand } from './command.js';
import { checkCmdSets } from './cmd-sets.js';
import { topoSort } from './toposort.js';
import { emptyMap, toJS, type PMap } from './tree.js';
import { headlineFrom } from './headline.js';
import { expandShards } from '../distributed/shards.js';
import type { Diagnostic, Pipeline, StageSpec } from './types.js';
import { validatePipelineRoot } from './validate.js';
import { resolveVars, type ResolvedVars } from './vars.js';

export interface LoadOptions {
  /** `--set` arguments: `STAGE.KEY=VALUE`, `STAGE.a.b=VALUE`, `vars.NAME=VALUE`. */
  sets?: string[];
  /** Working folder (deps, uses and export paths are relative to it); defaults to process.cwd(). */
  workdir?: string;
  /**
   * tailor's cache folder: parsed pipeline files are kept under `<cacheDir>/pipeline-trees/` so the
   * next load skips YAML parsing. Default: $TAILOR_CACHE, else `<workdir>/cache`, each only when the
   * folder exists; `false` turns this off.
   */
  cacheDir?: string | false;
}

/**
 * A pipeline's identity: its path from the working folder with `/` separators
 * (`pipelines/fashion.yaml`; `../x.yaml` for one outside it).
 */
export function pipelineId(file: string, workdir: string): string {
  return relative(resolve(workdir), resolve(workdir, file)).split(sep).join('/');
}

/** The folder for parsed-tree cache entries, or undefined for none. */
function treeCacheDir(opts: LoadOptions, workdir: string): string | undefined {
  if (opts.cacheDir === false) return undefined;
  const base = opts.cacheDir ?? process.env.TAILOR_CACHE ?? join(workdir, 'cache');
  if (opts.cacheDir === undefined && !existsSync(base)) return undefined;
  return join(resolve(workdir, base), 'pipeline-trees');
}

/** Diagnostics without repeats, in reading order: the pipeline file, its parents, then `--set`. */
function report(diags: Diagnostic[], sources: string[]): Diagnostic[] {
  const rank = (d: Diagnostic) => {
    const i = d.pos ? sources.indexOf(d.pos.file) : -1;
    return i >= 0 ? i : sources.length + (d.pos?.file === SET_FILE ? 1 : 0);
  };
  return dedupe(diags).sort(
    (a, b) => rank(a) - rank(b) || (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0),
  );
}

/** Template the `cmd` of a cmd stage now that its params and needs are final. */
function templateCmd(inst: Instance, needs: string[], vars: ResolvedVars, diags: Diagnostic[]): string | undefined {
  const e = inst.body.entries.get('cmd');
  if (!e) return undefined;
  const scope = {
    vars: vars.lookup,
    ...(inst.item ? { item: inst.item } : {}),
    cmd: { params: inst.plain?.params ?? {}, needs: new Set(needs), sanitize: sanitizeStageRef },
  };
  const before = diags.length;
  const t = templateCommand(e.value, ['stages', inst.group, 'cmd'], scope, diags);
  if (t) checkCmdSets(inst, t.paramPaths, diags);
  // A failed template still makes the stage a cmd stage (its errors are reported).
  return t?.cmd ?? (diags.length > before ? '' : undefined);
}

function uses(inst: Instance, resolver: ModuleResolver, diags: Diagnostic[]): ModuleRef | undefined {
  const e = inst.body.entries.get('uses');
  if (!e || e.value.kind !== 'scalar' || typeof e.value.value !== 'string') return undefined;
  return resolver.resolve(e.value.value, e.value.pos, keyPath('stages', inst.group, 'uses'), diags);
}

/** Load, check and resolve a pipeline file. */
export function loadPipeline(file: string, opts: LoadOptions = {}): Result<Pipeline, Diagnostic[]> {
  const workdir = resolve(opts.workdir ?? process.cwd());
  const merged = loadMerged(file, treeCacheDir(opts, workdir));
  if (!merged.ok) return merged;
  const { root, sources } = merged.value;
  const diags = validatePipelineRoot(root);
  const overrides = parseSets(opts.sets ?? [], diags);
  const top = root.kind === 'map' ? root : emptyMap(root.pos);
  const varsNode = top.entries.get('vars')?.value;
  const stagesNode = top.entries.get('stages')?.value;
  // Without a usable vars or stages map nothing below means anything (the schema said why).
  if ((varsNode && varsNode.kind !== 'map') || stagesNode?.kind !== 'map') return err(report(diags, sources));

  const vars = resolveVars(applyVarSets(varsNode as PMap | undefined, overrides, diags), diags);
  const instances = expandStages(stagesNode, vars, diags);
  applyStageSets(instances, overrides, stagesNode.entries.keys(), diags);
  validateInstances(instances, diags);
  const seen = new Map<string, Instance>();
  for (const inst of instances) {
    // Group names were checked by the schema; a foreach member's name is made from its item.
    if (inst.name !== inst.group && !isSafeStageName(inst.name)) {
      diags.push({
        severity: 'error',
        message: `stage name "${inst.name}" is not a safe name (letters, digits, ".", "_", "-" and one "@", starting with a letter, digit or "_", at most ${MAX_STAGE_NAME} characters): it names folders in the cache`,
        key: keyPath('stages', inst.group),
        pos: inst.keyPos,
      });
      inst.valid = false;
    }
    if (seen.has(inst.name)) {
      diags.push({
        severity: 'error',
        message: `two stages are named "${inst.name}" (foreach labels collide)`,
        key: keyPath('stages', inst.group),
        pos: inst.keyPos,
      });
    }
    seen.set(inst.name, inst);
  }
  const edges = resolveNeeds(instances, diags);

  const seedNode = top.entries.get('seed')?.value;
  const pipelineSeed = seedNode?.kind === 'scalar' && typeof seedNode.value === 'number' ? seedNode.value : 0;
  const resolver = new ModuleResolver(workdir);
  const specs = new Map<string, StageSpec>();
  for (const inst of instances) {
    if (!inst.valid) continue;
    const needs = (edges.get(inst.name) ?? []).map((e) => e.to);
    const cmd = templateCmd(inst, needs, vars, diags);
    const mod = cmd === undefined ? uses(inst, resolver, diags) : undefined;
    specs.set(inst.name, buildSpec(inst, needs, mod, cmd, pipelineSeed, diags, workdir));
  }
  if (diags.some((d) => d.severity === 'error')) return err(report(diags, sources));

  const groupOf = new Map(instances.map((i) => [i.name, i.group]));
  const order = topoSort(
    instances.map((i) => i.name),
    edges,
    (name) => groupOf.get(name) ?? name,
  );
  if (!order.ok) return order;
  const pipeline: Pipeline = {
    file: resolve(file),
    name: pipelineId(file, workdir),
    displayName: basename(file, extname(file)),
    workdir,
    vars: vars.values,
    stages: order.value.map((name) => specs.get(name) as StageSpec),
    sources,
  };
  const description = top.entries.get('description')?.value;
  if (description?.kind === 'scalar' && typeof description.value === 'string') pipeline.description = description.value;
  const headline = top.entries.get('headline')?.value;
  if (headline) pipeline.headline = headlineFrom(toJS(headline));
  return withShards(pipeline);
}

/** Stages with `shards: N` become their shards and an assemble stage under their own name. */
function withShards(pipeline: Pipeline): Result<Pipeline, Diagnostic[]> {
  const counts = Object.fromEntries(pipeline.stages.flatMap((s) => (s.shards ? [[s.name, s.shards]] : [])));
  if (Object.keys(counts).length === 0) return ok(pipeline);
  const expanded = expandShards(pipeline, counts);
  if (!expanded.ok) return err([{ severity: 'error', message: expanded.error, pos: pipeline.stages[0]?.pos }]);
  return ok(expanded.value);
}
