/** Stage params checked against the real stage module's own JSON Schema, with YAML positions. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkStageParams } from '../src/pipeline/check-params.js';
import { loadPipeline } from '../src/pipeline/load.js';
import type { Pipeline } from '../src/pipeline/types.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

function load(file: string, sets: string[] = []): Pipeline {
  const r = loadPipeline(join(fixtures, 'pipelines', file), { workdir: fixtures, sets });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  return r.value;
}

test('valid params give no diagnostics (defaults are not required)', async () => {
  assert.deepEqual(await checkStageParams(load('extends/base.yaml')), []);
  assert.deepEqual(await checkStageParams(load('extends/child.yaml', ['pad.mode=crop'])), []);
});

test('a value from a template is reported at the template; nested unknown params get suggestions', async () => {
  // templating.yaml gives params-demo `nested: ${vars.model}` = {name, dims}: neither is a param of `nested`.
  const diags = await checkStageParams(load('templating.yaml'));
  const file = join(fixtures, 'pipelines', 'templating.yaml');
  const pad = diags.filter((d) => d.key?.startsWith('stages.pad.'));
  assert.deepEqual(
    pad.map((d) => [d.message, d.key, d.pos?.file, d.pos?.line, d.pos?.col]),
    [
      ['unknown param "name" in stages.pad.params.nested', 'stages.pad.params.nested.name', file, 20, 15],
      ['unknown param "dims" in stages.pad.params.nested', 'stages.pad.params.nested.dims', file, 20, 15],
    ],
  );
  // The precompute foreach members share one source line: `mode: crop` is valid, nothing reported.
  assert.equal(diags.filter((d) => d.key?.startsWith('stages.precompute')).length, 0);
});

test('enum, minimum and --set values are checked and placed', async () => {
  const diags = await checkStageParams(load('extends/base.yaml', ['pad.mode=stretch', 'pad.quality=0']));
  assert.deepEqual(
    diags.map((d) => [d.message, d.pos?.file, d.pos?.col]),
    [
      ['stages.pad.params.quality must be >= 1, got 0', '--set', 13],
      ['stages.pad.params.mode must be one of "pad", "crop", got string "stretch"', '--set', 10],
    ],
  );
});

test('a suggestion for an unknown nested param comes from that level of the schema', async () => {
  const diags = await checkStageParams(load('extends/base.yaml', ['pad.nested.dpeth=2']));
  assert.equal(diags.length, 1);
  assert.equal(diags[0]?.hint, 'did you mean "depth"?');
  assert.equal(diags[0]?.key, 'stages.pad.params.nested.dpeth');
});
