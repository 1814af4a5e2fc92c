/**
 * Checking each module stage's params against the module's own JSON Schema before anything runs,
 * with errors at the param's position in the YAML (or in the `--set` argument that set it).
 */
import { loadStageDefinition } from '../stage-loader/definitions.js';
import { checkParams } from '../stage-loader/params.js';
import type { StageDefinition } from '../stage-api.js';
import { dedupe, displayFile, error, keyPath } from './diagnostics.js';
import type { Diagnostic, Pipeline, SourcePos, StageSpec } from './types.js';
import { mapAjvErrors, type Locator } from './validate.js';

/** A Locator over a stage's params, using the positions the loader recorded. */
function paramsLocator(s: StageSpec): Locator {
  const posOf = (path: string[], table: Record<string, SourcePos> | undefined): SourcePos | undefined => {
    // The deepest recorded position on the way (values from a template share the template's).
    for (let n = path.length; n >= 0; n--) {
      const p = table?.[['params', ...path.slice(0, n)].join('.')];
      if (p) return p;
    }
    return undefined;
  };
  return {
    find(path) {
      let value: unknown = s.params;
      const found: string[] = [];
      for (const seg of path) {
        if (value === null || typeof value !== 'object' || !Object.hasOwn(value, seg)) break;
        value = (value as Record<string, unknown>)[seg];
        found.push(seg);
      }
      const pos = posOf(found, s.valuePos) ?? s.pos;
      return { value, pos, keyPos: posOf(found, s.keyPos) ?? s.pos, path: ['params', ...found] };
    },
    keyPos(path, key) {
      return s.keyPos[[...path, key].join('.')];
    },
  };
}

/** The stage's params schema, or the error that kept the module from loading. */
type Loaded = { def: StageDefinition } | { error: string };

/**
 * Load each stage's definition (not its implementation) and check every module stage's params
 * (defaults are not filled in here: the runner does that). Returns the Diagnostics, empty when all params are valid.
 */
export async function checkStageParams(p: Pipeline): Promise<Diagnostic[]> {
  const loads = new Map<string, Promise<Loaded>>();
  const diags: Diagnostic[] = [];
  for (const s of p.stages) {
    if (s.kind !== 'module' || !s.module) continue;
    const module = s.module;
    let load = loads.get(module);
    if (!load) {
      load = loadStageDefinition(module).then(
        (def): Loaded => ({ def }),
        // The loader's message may start with the module path, which the Diagnostic says already.
        (e: unknown): Loaded => ({
          error: ((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '').replace(`${module}: `, ''),
        }),
      );
      loads.set(module, load);
    }
    const loaded = await load;
    if ('error' in loaded) {
      const pos = s.valuePos?.uses ?? s.keyPos.uses ?? s.pos;
      diags.push(
        error(
          `cannot load stage module ${displayFile(module)}: ${loaded.error}`,
          pos,
          keyPath('stages', s.group, 'uses'),
        ),
      );
    } else {
      const check = checkParams(loaded.def.params, s.params);
      if (!check.ok)
        diags.push(...mapAjvErrors(check.errors, paramsLocator(s), ['stages', s.group], loaded.def.params, 'param'));
    }
  }
  // Foreach members share their source: one report per message and place.
  return dedupe(diags);
}
