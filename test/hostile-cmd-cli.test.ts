/**
 * The README's `cmd` form through the real CLI with hostile input: `--set` values that try to
 * execute, a working folder and a `--cache` folder whose names hold spaces, quotes and `$`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Workspace } from './helpers/rig.js';

const PIPELINE = `stages:
  s:
    cmd: "sh -c 'echo \${params.x} > \${out}/o' && printf '%s' \\"\${params.x}\\" > \${out}/exact && echo s >> runs.log"
    params: { x: plain }
  t:
    needs: [s]
    cmd: "cat '\${needs.s}/exact' > \${out}/copy"
`;

test('--set values that try to run commands arrive as data, with a hostile cache path and working folder', async () => {
  const ws = await Workspace.create(`tailor ws it's "$HOME" $(x) \`y\` `);
  try {
    await ws.write('pipelines/p.yaml', PIPELINE);
    const cache = ws.path('sp dir', "ca'che $X");
    for (const value of ['$(touch PWNED)', 'ok', '`touch PWNED`', "'; touch PWNED; '", '"; touch PWNED #', 'a\nb']) {
      // As a YAML string (the value of --set is read as YAML), so every character is kept.
      const r = await ws.run(['pipelines/p.yaml', '--cache', cache, '--set', `s.x=${JSON.stringify(value)}`]);
      assert.equal(r.code, 0, r.result.stderr);
      assert.ok(!ws.exists('PWNED'), `executed with ${JSON.stringify(value)}`);
      const show = await ws.tailor(['show', 'pipelines/p.yaml', 't', '--json', '--cache', cache]);
      assert.equal(show.code, 0, show.stderr);
      const out = (JSON.parse(show.stdout) as { out: string }).out;
      assert.ok(out.startsWith(cache), out);
      assert.equal(readFileSync(join(out, 'copy'), 'utf8'), value.replace(/\n+$/, ''));
    }
    // Nothing went to a folder made of the first word of the cache path, nor to ./cache.
    assert.ok(!ws.exists('sp'), 'wrote into ./sp');
    assert.deepEqual(readdirSync(ws.dir).sort(), ['pipelines', 'runs.log', 'sp dir'].sort());
    assert.ok(existsSync(cache));
  } finally {
    await ws.dispose();
  }
});

test('--set of a key a cmd stage does not use is an error with a suggestion', async () => {
  const ws = await Workspace.create();
  try {
    await ws.write('pipelines/p.yaml', PIPELINE);
    const r = await ws.tailor(['run', 'pipelines/p.yaml', '--set', 's.xx=1']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--set:1:3 .*does not use param "xx"/);
    assert.match(r.stderr, /did you mean "x"\?/);
    assert.ok(!ws.exists('runs.log'), 'nothing ran');
  } finally {
    await ws.dispose();
  }
});
