/**
 * How stage modules are put together: a built-in stage's definition (what the engine loads in its
 * own process to check params and read `deterministic`) imports no implementation and no heavy
 * package; built-in stages use only what the public `tailor` entry offers plus their own helpers
 * in src/ml and src/data; user stages work in both forms, `{ params, run }` and
 * `{ params, load }`, and a lazy one's implementation runs only in the stage's process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { REPO, Workspace } from './helpers/rig.js';
import { loadStageDefinition } from '../src/stage-loader/definitions.js';

type TS = typeof import('typescript');
const ts = createRequire(import.meta.url)('typescript') as TS;

/** Local and package imports of a file: static ones (import/export ... from), and dynamic ones. */
function importsOf(file: string): { statics: string[]; dynamics: string[] } {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const statics: string[] = [];
  const dynamics: string[] = [];
  const visit = (node: import('typescript').Node): void => {
    if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier))
      statics.push(node.moduleSpecifier.text);
    else if (
      ts.isExportDeclaration(node) &&
      !node.isTypeOnly &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    )
      statics.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) dynamics.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return { statics, dynamics };
}

const resolveLocal = (from: string, spec: string): string => resolve(dirname(from), spec.replace(/\.js$/, '.ts'));
const rel = (file: string): string => relative(REPO, file);

/** Every file and package the module loads at run time when imported (static imports, transitively). */
function staticClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of importsOf(file).statics) {
      if (spec.startsWith('.')) queue.push(resolveLocal(file, spec));
      else if (!spec.startsWith('node:'))
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  }
  return { files, packages };
}

const definitions = readdirSync(join(REPO, 'stages'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => join(REPO, 'stages', f));
const HEAVY = ['sharp', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'better-sqlite3', 'nsfwjs', 'p-map'];

test('a built-in definition loads no implementation and no heavy package; its implementation is lazy', async () => {
  assert.ok(definitions.length >= 10);
  for (const def of definitions) {
    const { files, packages } = staticClosure(def);
    const heavy = HEAVY.filter((p) => packages.has(p));
    assert.deepEqual(heavy, [], `${rel(def)} loads ${heavy.join(', ')}`);
    const impl = [...files].filter((f) => f.includes(`${join('stages', 'impl')}`));
    assert.deepEqual(impl.map(rel), [], `${rel(def)} imports its implementation statically`);
    const loaded = await loadStageDefinition(def);
    assert.equal(typeof loaded.load, 'function', `${rel(def)} has a lazy implementation`);
    assert.equal(loaded.run, undefined);
  }
});

test('built-in stages import only the public entry, their own helpers in src/ml and src/data, and each other', () => {
  const entry = join(REPO, 'src', 'index.ts');
  const publicModules = new Set(importsOf(entry).statics.map((s) => resolveLocal(entry, s)));
  publicModules.add(join(REPO, 'src', 'stage-api.ts'));
  const allowed = (file: string): boolean =>
    publicModules.has(file) ||
    file.startsWith(join(REPO, 'src', 'ml') + '/') ||
    file.startsWith(join(REPO, 'src', 'data') + '/') ||
    file.startsWith(join(REPO, 'stages') + '/');
  const stageFiles = [
    ...definitions,
    ...readdirSync(join(REPO, 'stages', 'impl')).map((f) => join(REPO, 'stages', 'impl', f)),
  ];
  const bad: string[] = [];
  for (const file of stageFiles) {
    const { statics, dynamics } = importsOf(file);
    for (const spec of [...statics, ...dynamics].filter((s) => s.startsWith('.'))) {
      const target = resolveLocal(file, spec);
      if (!allowed(target)) bad.push(`${rel(file)} imports ${rel(target)}`);
    }
  }
  assert.deepEqual(bad, []);
  // Type-only imports count too: a user stage could not see these either.
  for (const file of stageFiles) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/from '(\.[^']+)'/g)) {
      const target = resolveLocal(file, m[1]!);
      if (!allowed(target)) bad.push(`${rel(file)} imports ${rel(target)}`);
    }
  }
  assert.deepEqual(bad, []);
  assert.ok(statSync(entry).isFile());
});

test('user stages in both forms run; a lazy one loads its implementation only in the stage process', async () => {
  const ws = await Workspace.create('tailor-ws-forms-');
  try {
    const api = join(REPO, 'src', 'index.ts');
    await ws.write(
      'stages/inline.ts',
      `import { defineStage } from '${api}';
export default defineStage<{ factor: number }>({
  params: { type: 'object', additionalProperties: false, properties: { factor: { type: 'number', default: 2 } } },
  async run(ctx) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(ctx.out + '/value.txt', String(3 * ctx.params.factor));
  },
});
`,
    );
    await ws.write(
      'stages/lazy.ts',
      `import { defineStage, type ParamsOf } from '${api}';
const params = { type: 'object', additionalProperties: false, properties: { word: { type: 'string', default: 'hi' } } } as const;
export type LazyParams = ParamsOf<typeof params>;
export default defineStage<LazyParams>({ params, deterministic: true, load: () => import('./lazy-impl.js') });
`,
    );
    await ws.write(
      'stages/lazy-impl.ts',
      `import { appendFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { StageContext } from '${api}';
import type { LazyParams } from './lazy.js';
appendFileSync(process.cwd() + '/impl-loads.log', process.pid + '\\n');
export default async function run(ctx: StageContext<LazyParams>): Promise<void> {
  await writeFile(ctx.out + '/word.txt', ctx.params.word + ' ' + ctx.codeKey.length);
}
`,
    );
    await ws.write(
      'p.yaml',
      `stages:
  inline: { uses: stages/inline.ts, params: { factor: 5 } }
  lazy: { uses: stages/lazy.ts, params: { word: hello } }
`,
    );
    const r = await ws.run(['p.yaml']);
    assert.equal(r.code, 0, r.result.stdout + r.result.stderr);
    assert.deepEqual(r.actions, { inline: 'ran', lazy: 'ran' });
    const show = JSON.parse((await ws.tailor(['show', 'p.yaml', 'lazy', '--json'])).stdout) as { out: string };
    assert.equal(readFileSync(join(show.out, 'word.txt'), 'utf8'), 'hello 64');
    // Loaded once, by the stage's own process: not by the engine that checked its params.
    const loads = (await ws.read('impl-loads.log')).trim().split('\n');
    assert.equal(loads.length, 1);
    const bad = await ws.tailor(['run', 'p.yaml', '--set', 'lazy.word=3']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /word/);
    assert.equal(
      (await ws.read('impl-loads.log')).trim().split('\n').length,
      1,
      'a param check loads no implementation',
    );
  } finally {
    await ws.dispose();
  }
});
