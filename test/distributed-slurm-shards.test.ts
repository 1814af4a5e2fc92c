/**
 * `shards: N` through `tailor run --executor slurm` on a real single-node cluster (munged,
 * slurmctld, slurmd as root; test/helpers/services.ts): pad sharded three ways becomes three
 * sbatch jobs and an assemble job, and the assembled output has the content hash of a local
 * unsharded pad, so the stage below keeps its key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { Workspace } from './helpers/rig.js';
import { latestOutputs as latest } from './helpers/latest-outputs.js';
import { slurmMissing, startSlurm, type SlurmCluster } from './helpers/services.js';
import { distinctJpegs } from './fixtures/data/images.js';

const skip = slurmMissing();
let cluster: SlurmCluster | undefined;

before(async () => {
  if (!skip) cluster = await startSlurm({ gpus: 0 });
});
after(async () => {
  await cluster?.stop();
});

const yaml = (shards: string) => `stages:
  pad:
    uses: pad
    deps: [data]
    params: { manifest: data/manifest.jsonl, size: 32, preview_images: 3 }
${shards}
  count:
    cmd: "wc -l < \${needs.pad}/manifest.jsonl > \${out}/n"
    needs: [pad]
`;

test(
  'pad with shards: 3 through --executor slurm gives the content hash of a local unsharded pad',
  { skip },
  async () => {
    const ws = await Workspace.create('tailor-slurm-shards-');
    try {
      const lines: string[] = [];
      await mkdir(ws.path('data', 'images'), { recursive: true });
      for (const [name, bytes] of await distinctJpegs(12)) {
        await writeFile(ws.path('data', 'images', name), bytes);
        lines.push(
          JSON.stringify({ imageId: name.slice(0, -4), set: 'train', labels: [], file: `data/images/${name}` }),
        );
      }
      await ws.write('data/manifest.jsonl', lines.join('\n') + '\n');
      await ws.write('p.yaml', yaml(''));
      const local = await ws.run(['p.yaml', '--cache', 'local-cache']);
      assert.equal(local.code, 0, local.result.stderr);
      const want = await latest(ws, 'local-cache');

      await ws.write('p.yaml', yaml('    shards: 3'));
      const remote = pathToFileURL(ws.path('remote')).href;
      const dist = await ws.run(
        ['p.yaml', '--executor', 'slurm', '--remote', remote, '--cache', 'run-cache'],
        cluster!.env,
      );
      assert.equal(dist.code, 0, dist.result.stdout + dist.result.stderr);
      assert.deepEqual(dist.actions, { 'pad#1': 'ran', 'pad#2': 'ran', 'pad#3': 'ran', pad: 'ran', count: 'ran' });
      const workers = (
        JSON.parse(dist.result.stdout.trim().split('\n').pop()!) as {
          stages: Array<{ name: string; worker?: string }>;
        }
      ).stages.filter((s) => s.name.startsWith('pad'));
      for (const s of workers) assert.match(s.worker ?? '', /^slurm:\d+/, `${s.name} ran as a Slurm job`);
      const got = await latest(ws, 'run-cache');
      assert.ok(want.get('pad')?.contentHash);
      assert.equal(got.get('pad')?.contentHash, want.get('pad')?.contentHash, 'assembled on Slurm = unsharded locally');
      assert.equal(got.get('count')?.stageKey, want.get('count')?.stageKey, 'the stage below keeps its key');
    } finally {
      await ws.dispose();
    }
  },
);
