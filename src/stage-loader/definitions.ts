/**
 * Loading stage definitions: a stage module's default export, `defineStage({...})`, checked for
 * shape. Shared by pipeline/ (param checks before a run) and run/ (the stage's child process, the
 * lock file's determinism column), which is why it sits below both.
 *
 * A definition is loaded once per process: the engine reads `params` and `deterministic` from it
 * without loading the implementation (a lazy definition's `load` is called only where the stage
 * runs). An edited module file is loaded again (the cache is checked against its size and mtime);
 * edits to what it imports are seen by the next process (Node caches those modules).
 */
import { statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { StageDefinition, StageRun } from '../stage-api.js';

interface Cached {
  signature: string;
  definition: Promise<StageDefinition>;
}

const cache = new Map<string, Cached>();

function signatureOf(absPath: string): string {
  try {
    const st = statSync(absPath);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/** The module's default export, unwrapping the extra `default` tsx adds when it sees CommonJS. */
function defaultExport(mod: { default?: unknown }, has: string): unknown {
  const value = mod.default;
  if (value && typeof value === 'object' && 'default' in value && !(has in value))
    return (value as { default?: unknown }).default;
  return value;
}

/**
 * TypeScript modules are loaded through tsx's loaders, registered for the whole process (running
 * from sources they already are). Not tsx's scoped `tsImport`: in a folder without
 * `"type": "module"` it wraps a module so that its own `import('./impl.js')` cannot resolve.
 */
let tsxReady: Promise<unknown> | undefined;
/** tsx's main entry registers its ESM and CommonJS loaders (it has no type declarations). */
const TSX_LOADERS: string = 'tsx';
const fromSources = fileURLToPath(import.meta.url).endsWith('.ts');

async function importModule(absPath: string, version: string): Promise<{ default?: unknown }> {
  if (/\.[cm]?ts$/.test(absPath) && !fromSources) await (tsxReady ??= import(TSX_LOADERS));
  // The query makes an edited module load again (the modules it imports stay cached: see above).
  return (await import(`${pathToFileURL(absPath).href}?v=${encodeURIComponent(version)}`)) as { default?: unknown };
}

async function loadFresh(absPath: string, version: string): Promise<StageDefinition> {
  const def = defaultExport(await importModule(absPath, version), 'params') as Partial<StageDefinition> | undefined;
  const hasRun = typeof def?.run === 'function';
  const hasLoad = typeof def?.load === 'function';
  if (!def || typeof def.params !== 'object' || def.params === null || hasRun === hasLoad) {
    throw new Error(
      `${absPath}: default export is not a stage (expected export default defineStage({ params, run }) or defineStage({ params, load }))`,
    );
  }
  return def as StageDefinition;
}

/** Import a stage module (.ts or .js) and return its definition; once per process per module version. */
export function loadStageDefinition(absPath: string): Promise<StageDefinition> {
  const signature = signatureOf(absPath);
  const hit = cache.get(absPath);
  if (hit && hit.signature === signature) return hit.definition;
  const definition = loadFresh(absPath, signature);
  cache.set(absPath, { signature, definition });
  // A failed load is not remembered: the next call tries again (the user may be fixing the file).
  definition.catch(() => {
    if (cache.get(absPath)?.definition === definition) cache.delete(absPath);
  });
  return definition;
}

/** The run function of a definition: its own, or the default export of what `load` imports. */
export async function loadStageRun(def: StageDefinition, where = 'stage'): Promise<StageRun> {
  if (def.run) return def.run;
  const mod = (await def.load()) as { default?: unknown };
  const run = defaultExport(mod, 'call');
  if (typeof run !== 'function')
    throw new Error(`${where}: the module its load() imports has no default export function (the stage's run)`);
  return run as StageRun;
}

/**
 * What each module stage declares as `deterministic` in defineStage (cmd stages declare nothing):
 * the default of `verify.deterministic`, for the lock file and for `tailor verify`.
 */
export async function declaredDeterminism(
  stages: ReadonlyArray<{ name: string; kind: string; module?: string }>,
): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  await Promise.all(
    stages.map(async (s) => {
      if (s.kind !== 'module' || !s.module) return;
      const def = await loadStageDefinition(s.module).catch(() => undefined);
      if (def?.deterministic !== undefined) out.set(s.name, def.deterministic);
    }),
  );
  return out;
}
