/**
 * The broken-pipeline corpus: every file in test/fixtures/pipelines/broken/ is a real mistake a
 * user can make; expected.json says which message, where (file, line, column) and about which key.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkStageParams } from '../src/pipeline/check-params.js';
import { SET_FILE, formatDiagnostic } from '../src/pipeline/diagnostics.js';
import { loadPipeline } from '../src/pipeline/load.js';
import type { Diagnostic } from '../src/pipeline/types.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const dir = join(fixtures, 'pipelines', 'broken');

interface Case {
  message: string;
  line: number;
  col: number;
  key: string;
  file?: string;
  sets?: string[];
  checkParams?: boolean;
  related?: Array<[number, number]>;
}
const { cases } = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { cases: Record<string, Case> };

async function diagnose(file: string, c: Case): Promise<Diagnostic[]> {
  const r = loadPipeline(join(dir, file), { sets: c.sets ?? [], workdir: fixtures });
  if (!r.ok) return r.error;
  assert.ok(c.checkParams, `${file} loaded without errors`);
  return checkStageParams(r.value);
}

test('every broken pipeline in the corpus has an expectation, and there are at least 20', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(
    files.filter((f) => !(f in cases)),
    [],
  );
  assert.ok(files.length >= 20, `only ${files.length} broken pipelines`);
});

for (const [file, c] of Object.entries(cases)) {
  test(`broken: ${file} -> ${c.message}`, async () => {
    const diags = await diagnose(file, c);
    const text = (d: Diagnostic) => `${d.message}${d.hint ? ` (${d.hint})` : ''}`;
    const d = diags.find((x) => text(x).includes(c.message));
    assert.ok(
      d,
      `no diagnostic containing ${JSON.stringify(c.message)}; got:\n${diags.map((x) => formatDiagnostic(x)).join('\n')}`,
    );
    assert.equal(d.severity, 'error');
    assert.ok(d.pos, 'diagnostic has a position');
    const wantFile = c.file === SET_FILE ? SET_FILE : join(dir, c.file ?? file);
    assert.equal(d.pos.file, wantFile);
    assert.deepEqual([d.pos.line, d.pos.col], [c.line, c.col], `position of ${JSON.stringify(text(d))}`);
    assert.equal(d.key, c.key);
    if (c.related)
      assert.deepEqual(
        d.related?.map((r) => [r.pos.line, r.pos.col]),
        c.related,
      );
    // The printed form leads with file:line:col and shows the source line with an underline.
    const shown = formatDiagnostic(d);
    const where = c.file === SET_FILE ? SET_FILE : relative(process.cwd(), wantFile);
    assert.ok(shown.startsWith(`${where}:${c.line}:${c.col} error: `), shown);
    assert.match(shown, /\n *\d+ \| .*\n *\| *\^/);
  });
}

test('the --set position shows the argument itself as the source line', async () => {
  const diags = await diagnose('set-unknown-stage.yaml', cases['set-unknown-stage.yaml'] as Case);
  const shown = formatDiagnostic(diags[0] as Diagnostic);
  assert.equal(
    shown,
    '--set:1:1 error: --set: unknown stage "padd" (did you mean "pad"?)\n 1 | padd.size=3\n   | ^~~~',
  );
});
