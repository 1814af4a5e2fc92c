/**
 * What stages record about their backend and what `tailor verify` makes of it: bytes are compared
 * between runs on the same portable backend (wasm, cpu) or on tfjs-node with the same signature
 * (libtensorflow, CPU model, threads); a lock entry made on wasm verified on tfjs-node compares
 * only the metrics with a declared tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesIncomparable, recordOf, stageBackendOf } from '../src/ml/backend-record.js';
import { compareStage } from '../src/verify/compare.js';
import type { StageSpec } from '../src/pipeline/types.js';

const wasm = recordOf({ name: 'wasm' });
const node = recordOf({ name: 'tfjs-node', libtensorflow: { version: '2.21.0' } });

test('records: portable backends on any machine, tfjs-node by signature, GPU not claimed', () => {
  assert.deepEqual(wasm, { name: 'wasm', gpu: false, signature: 'wasm', reproducible: 'on any machine' });
  assert.equal(node.reproducible, 'same signature only');
  assert.match(
    node.signature,
    /^tfjs-node \| libtensorflow 2\.21\.0 \| .+ \| \d+ intra-op threads \| oneDNN (on|off)$/,
  );
  const gpu = recordOf({ name: 'tfjs-node-gpu', gpu: true, libtensorflow: { version: '2.21.0' } });
  assert.equal(gpu.reproducible, 'not claimed');
  // Older lock entries carry only train.backend / fine_tune.backend.
  assert.deepEqual(stageBackendOf({ train: { backend: 'wasm', epochs: 3 } }), { name: 'wasm' });
  assert.equal(stageBackendOf({ rows: 3 }), undefined);
});

test('bytes are comparable only where the backends allow', () => {
  assert.equal(bytesIncomparable({ backend: wasm }, { backend: wasm }), undefined);
  assert.equal(bytesIncomparable({ backend: node }, { backend: node }), undefined);
  assert.equal(bytesIncomparable({}, {}), undefined);
  assert.match(
    bytesIncomparable({ backend: wasm }, { backend: node }) ?? '',
    /lock made on wasm, this run on tfjs-node/,
  );
  const otherCpu = { ...node, signature: node.signature.replace(/\| [^|]+ \| (\d+) intra/, '| Other CPU | $1 intra') };
  assert.match(
    bytesIncomparable({ backend: otherCpu }, { backend: node }) ?? '',
    /same libtensorflow, CPU model and thread count/,
  );
  assert.match(bytesIncomparable({ train: { backend: 'wasm' } }, { backend: node }) ?? '', /lock made on wasm/);
});

test('verify: a wasm lock entry checked on tfjs-node compares tolerated metrics, not bytes', () => {
  const spec = { name: 'train-head', verify: { tolerance: { 'holdout.micro_f1': 0.03 } } } as unknown as StageSpec;
  const entry = {
    key: 'k',
    output: 'tree-a',
    content: 'bytes-a',
    deterministic: true,
    metrics: { backend: wasm, holdout: { micro_f1: 0.8, images: 38 }, train: { best_epoch: 12 } },
  };
  const fresh = (backend: object, f1: number) => ({
    name: 'train-head',
    action: 'ran' as const,
    key: 'k',
    treeHash: 'tree-b',
    content: 'bytes-b',
    metrics: { backend, holdout: { micro_f1: f1, images: 38 }, train: { best_epoch: 9 } },
  });
  const lock = { pipeline: 'p', stages: { 'train-head': entry } };
  const across = compareStage({ spec, entry, fresh: fresh(node, 0.81), lock, deterministic: true });
  const by = (check: string) => across.find((c) => c.check === check)!;
  assert.equal(by('output').verdict, 'not-compared');
  assert.match(by('output').note!, /lock made on wasm, this run on tfjs-node/);
  assert.equal(by('metric holdout.micro_f1').verdict, 'ok'); // within the declared 0.03
  assert.equal(by('metric holdout.images').verdict, 'ok'); // equal anyway
  assert.equal(by('metric train.best_epoch').verdict, 'not-compared'); // no tolerance, other backend
  assert.ok(!across.some((c) => c.verdict === 'mismatch'));
  const worse = compareStage({ spec, entry, fresh: fresh(node, 0.7), lock, deterministic: true });
  assert.equal(worse.find((c) => c.check === 'metric holdout.micro_f1')!.verdict, 'mismatch');
  // Same backend: the bytes decide, as before.
  const same = compareStage({ spec, entry, fresh: fresh(wasm, 0.8), lock, deterministic: true });
  assert.equal(same.find((c) => c.check === 'output')!.verdict, 'mismatch');
  assert.equal(same.find((c) => c.check === 'metric train.best_epoch')!.verdict, 'mismatch');
});
