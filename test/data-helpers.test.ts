/**
 * The data stages' small helpers: the streaming JSON reader (chunk boundaries, key order, bad
 * input), image URL resolution, backoff bounds, CSV round trip (NaN, BOM, mixed line ends).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streamTopLevelArrays } from '../src/data/json-array-stream.js';
import { readImaterialist } from '../src/data/imaterialist-read.js';
import { ImaterialistWriter } from '../src/data/imaterialist-write.js';
import { parseImageUrl } from '../src/data/url-source.js';
import { backoffDelay } from '../src/data/backoff.js';
import { csvLine, parseCsv, toCsv } from '../src/formats/csv.js';
import { parseLabelMap } from '../src/formats/label-map.js';

async function collect(file: string, keys: string[], chunk?: number): Promise<Array<[string, number, unknown]>> {
  const out: Array<[string, number, unknown]> = [];
  for await (const e of streamTopLevelArrays(file, new Set(keys), chunk)) out.push([e.key, e.index, e.value]);
  return out;
}

describe('streaming JSON arrays', () => {
  it('finds the same elements at every chunk size, arrays in any order, other keys skipped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tailor-json-'));
    const file = join(dir, 'a.json');
    const doc = {
      info: { nested: [1, '],}"', { x: [] }], s: 'a\\"b' },
      annotations: [
        { imageId: 1, labelId: [3, '4'] },
        { imageId: 'é', labelId: [] },
      ],
      n: -1.5e3,
      images: [{ url: 'http://x/"q".jpg', imageId: '2' }, 7, 'text', null],
      flag: true,
    };
    await writeFile(file, '\ufeff ' + JSON.stringify(doc, null, 1));
    const want: Array<[string, number, unknown]> = [
      ...doc.annotations.map((v, i): [string, number, unknown] => ['annotations', i, v]),
      ...doc.images.map((v, i): [string, number, unknown] => ['images', i, v]),
    ];
    for (const chunk of [1, 2, 3, 5, 16, 1 << 20])
      assert.deepEqual(await collect(file, ['images', 'annotations'], chunk), want, `chunk ${chunk}`);
    assert.deepEqual(await collect(file, ['nothing']), []);
  });

  it('names the problem and byte offset of bad input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tailor-json-'));
    const cases: Array<[string, RegExp]> = [
      ['[1,2]', /expected "\{"/],
      ['{"images": {"a": 1}}', /"images" must be an array/],
      ['{"images": [{"url": "x"', /unexpected end of file/],
      ['{"images": [{"url": x}]}', /images\[0\]/],
      ['{"images": []} extra', /unexpected data after/],
    ];
    for (const [text, re] of cases) {
      const file = join(dir, 'bad.json');
      await writeFile(file, text);
      await assert.rejects(collect(file, ['images']), re, text);
    }
    await writeFile(join(dir, 'noid.json'), '{"images":[{"url":"u"}]}');
    await assert.rejects(async () => {
      for await (const _ of readImaterialist(join(dir, 'noid.json'), { images: true })) void _;
    }, /images\[0\]: "imageId" must be/);
  });

  it('round-trips the writer: repeated labels written, read back deduplicated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tailor-json-'));
    const w = new ImaterialistWriter(join(dir, 't.json'), true);
    await w.addImage('1', 'file:images/1.jpg');
    await w.addAnnotation('1', ['5', '6', '5']);
    await w.close();
    const recs = [];
    for await (const r of readImaterialist(join(dir, 't.json'), { images: true, annotations: true })) recs.push(r);
    assert.deepEqual(recs, [
      { kind: 'image', imageId: '1', url: 'file:images/1.jpg' },
      { kind: 'annotation', imageId: '1', labels: ['5', '6'] },
    ]);
  });
});

describe('image URLs', () => {
  it('resolves relative file: URLs inside the JSON folder only', () => {
    assert.deepEqual(parseImageUrl('file:images/a%20b.jpg', '/data/set'), {
      kind: 'file',
      path: '/data/set/images/a b.jpg',
    });
    assert.deepEqual(parseImageUrl('file:///abs/x.jpg', '/data'), { kind: 'file', path: '/abs/x.jpg' });
    assert.equal(parseImageUrl('file:../x.jpg', '/data/set').kind, 'bad');
    assert.equal(parseImageUrl('file:images/../../x.jpg', '/data/set').kind, 'bad');
    assert.deepEqual(parseImageUrl(' HTTPS://Example.com/a b.jpg ', '/d'), {
      kind: 'http',
      url: 'https://example.com/a%20b.jpg',
    });
    assert.deepEqual(parseImageUrl('gopher://x', '/d'), { kind: 'bad', reason: 'unsupported url scheme' });
  });
});

describe('small utilities', () => {
  it('backs off exponentially with bounded jitter', () => {
    for (let a = 0; a < 6; a++) {
      const step = Math.min(1000, 100 * 2 ** a);
      assert.equal(
        backoffDelay(a, 100, 1000, () => 0),
        step / 2,
      );
      assert.ok(backoffDelay(a, 100, 1000, () => 0.999999) <= step);
    }
  });

  it('quotes CSV fields and parses them back', () => {
    const row = ['1', 'a,b', 'say "hi"', 'two\nlines', ''];
    assert.deepEqual(parseCsv(csvLine(row) + csvLine(['x', 'y', 'z', 'w', 'v'])), [row, ['x', 'y', 'z', 'w', 'v']]);
  });

  it('writes every missing or non-finite number as an empty cell', () => {
    assert.equal(toCsv(['a', 'b', 'c', 'd'], [[Number.NaN, Infinity, null, 0.5]]), 'a,b,c,d\n,,,0.5\n');
  });

  it('reads a label map saved with a byte-order mark and Windows line ends', () => {
    const text = '\ufefflabelId,taskId,labelName,taskName\r\n1,1,"red, dark",colour\r\n2,1,blue,colour\r\n';
    assert.deepEqual(
      [...parseLabelMap(text)],
      [
        ['1', 'red, dark'],
        ['2', 'blue'],
      ],
    );
    assert.deepEqual(parseCsv('a,b\n1,2\r\n\n3\n'), [['a', 'b'], ['1', '2'], ['3']]);
  });
});
