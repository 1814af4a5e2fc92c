/**
 * The Slurm executor against a real single-node cluster (munged, slurmctld, slurmd as root, two
 * fake GPUs as gres): GPU stages get one device each, afterok orders a chain submitted at once,
 * outputs equal a local run, logs come back; a failing job, a cancelled job and a requeued job
 * are reported with their reasons. Also the `--slurm-args` splitting, which needs no cluster.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Workspace } from './helpers/rig.js';
import { slurmMissing, startSlurm, type SlurmCluster } from './helpers/services.js';
import { loadOrThrow, runDistributed, type DriverOptions } from './helpers/distributed-driver.js';
import { waitFor } from './helpers/distributed-workers.js';
import { SlurmExecutor } from '../src/distributed/slurm-executor.js';
import { splitSlurmArgs } from '../src/distributed/slurm-script.js';
import { Session } from '../src/run/session.js';
import type { StageJob } from '../src/distributed/stage-job.js';

const skip = slurmMissing();
let cluster: SlurmCluster | undefined;

before(async () => {
  if (!skip) cluster = await startSlurm({ gpus: 2 });
});
after(async () => {
  await cluster?.stop();
});

function slurm(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { env: { ...process.env, ...cluster!.env }, encoding: 'utf8' });
}

async function withWorkspace(
  fn: (
    ws: Workspace,
    run: (file: string, extra?: Partial<DriverOptions>, exec?: object) => ReturnType<typeof runDistributed>,
  ) => Promise<void>,
): Promise<void> {
  const ws = await Workspace.create('tailor-slurm-ws-');
  const remoteUrl = pathToFileURL(ws.path('remote')).href;
  const executors: SlurmExecutor[] = [];
  try {
    await fn(ws, (file, extra = {}, exec = {}) => {
      const executor = new SlurmExecutor({
        jobDir: ws.path('slurm-jobs'),
        remoteUrl,
        nodeCache: ws.path('node-cache'),
        env: { ...process.env, ...cluster!.env },
        pollMs: 200,
        ...exec,
      });
      executors.push(executor);
      return runDistributed(loadOrThrow(file, ws.dir), {
        cacheDir: ws.path('run-cache'),
        executor,
        remoteUrl,
        ...extra,
      });
    });
  } finally {
    await Promise.all(executors.map((e) => e.close()));
    await ws.dispose();
  }
}

const GPU_CHAIN = `stages:
  g1:
    cmd: "echo g1 >> runs.log && echo g1 says hello && printf %s \\"$CUDA_VISIBLE_DEVICES\\" > \${out}/dev && sleep 2 && echo one > \${out}/v"
    resources: { gpu: 1 }
  g2:
    cmd: "echo g2 >> runs.log && printf %s \\"$CUDA_VISIBLE_DEVICES\\" > \${out}/dev && sleep 2 && echo two > \${out}/v"
    resources: { gpu: 1 }
  join:
    cmd: "echo join >> runs.log && cat \${needs.g1}/v \${needs.g2}/v > \${out}/v"
    needs: [g1, g2]
  last:
    cmd: "echo last >> runs.log && cat \${needs.join}/v > \${out}/w && echo end >> \${out}/w"
    needs: [join]
`;

test(
  'stages run as sbatch jobs: one fake GPU each through gres, a chain in order, the outputs of a local run',
  { skip },
  async () => {
    await withWorkspace(async (ws, run) => {
      await ws.write('p.yaml', GPU_CHAIN);
      const local = await ws.run(['p.yaml', '--cache', 'local-cache']);
      assert.equal(local.code, 0, local.result.stderr);
      const localSession = await Session.open(ws.path('local-cache'));
      const localTrees = Object.fromEntries(
        [...localSession.index.outputs.latestOfPipeline('p.yaml')].map(([k, v]) => [k, v.treeHash]),
      );
      localSession.close();
      await ws.clearRuns();

      const lines: string[] = [];
      const started: Record<string, string> = {};
      const out = await run(
        'p.yaml',
        {
          onLine: (stage, line) => lines.push(`${stage}: ${line}`),
          onStart: (stage, worker) => (started[stage] = worker),
        },
        { partition: 'other', extraArgs: splitSlurmArgs("--comment='tailor test'") },
      );
      for (const name of ['g1', 'g2', 'join', 'last']) {
        assert.equal(out[name]!.action, 'ran', `${name}: ${out[name]!.message}\n${out[name]!.logTail?.join('\n')}`);
        assert.match(out[name]!.worker!, /^slurm:\d+@/, 'the worker is the Slurm job');
      }
      // g1 and g2 record their device, unlike a local run without GPUs; what they computed is the same.
      for (const name of ['join', 'last']) {
        assert.equal(out[name]!.treeHash, localTrees[name], `${name} has the local run's output`);
      }
      const session = await Session.open(ws.path('run-cache'));
      const dev = async (s: string) => readFile(join(session.store.pathOf(out[s]!.treeHash!), 'dev'), 'utf8');
      const devices = [await dev('g1'), await dev('g2')].sort();
      session.close();
      assert.deepEqual(devices, ['0', '1'], 'each GPU stage got its own device');
      assert.ok(lines.includes('g1: g1 says hello'), `the job's log came back:\n${lines.join('\n')}`);

      // The engine hands over ready stages: join and last went to Slurm with their upstream outputs known.
      const [runDir] = await readdir(ws.path('slurm-jobs'));
      const jobFile = async (s: string) =>
        JSON.parse(await readFile(ws.path('slurm-jobs', runDir!, `${runDir}.${s}.job.json`), 'utf8')) as StageJob;
      assert.deepEqual(Object.keys((await jobFile('join')).needs).sort(), ['g1', 'g2']);
      assert.equal((await jobFile('last')).key, out.last!.key, "the job carries the run's key");
      const info = slurm(['scontrol', '-o', 'show', 'job', started.last!.replace('slurm:', '')]);
      assert.match(info, /Partition=other/, '--slurm-partition reached sbatch');
      assert.match(info, /Comment=tailor/, '--slurm-args reached sbatch');
      assert.deepEqual(await ws.runCounts(), { g1: 1, g2: 1, join: 1, last: 1 });
    });
  },
);

test(
  'a failing job is reported with its Slurm state, reason and exit code; its dependents are skipped, nothing left pending',
  { skip },
  async () => {
    await withWorkspace(async (ws, run) => {
      await ws.write(
        'p.yaml',
        `stages:
  bad:
    cmd: "echo bad >> runs.log && echo about to fail && exit 3"
  after:
    cmd: "echo after >> runs.log"
    needs: [bad]
  ok:
    cmd: "echo ok >> runs.log && echo fine > \${out}/f"
`,
      );
      const t0 = Date.now();
      const out = await run('p.yaml');
      assert.ok(Date.now() - t0 < 60_000);
      assert.equal(out.bad!.action, 'failed');
      assert.match(
        out.bad!.message!,
        /slurm job \d+ FAILED \(reason NonZeroExitCode, exit code 1:0, on \S+\): command exited with code 3/,
      );
      assert.ok(out.bad!.logTail!.includes('about to fail'), out.bad!.logTail!.join('\n'));
      assert.equal(out.after!.action, 'skipped', 'the dependent is reported as skipped');
      assert.equal(out.ok!.action, 'ran', out.ok!.message);
      assert.deepEqual(await ws.runCounts(), { bad: 1, ok: 1 });
      assert.equal(slurm(['squeue', '-h']).trim(), '', 'nothing left pending in the queue');
    });
  },
);

test(
  'a job cancelled with scancel is reported as cancelled; Ctrl-C on the run cancels its jobs',
  { skip },
  async () => {
    await withWorkspace(async (ws, run) => {
      await ws.write(
        'p.yaml',
        `stages:\n  long:\n    cmd: "echo long >> runs.log && sleep 60"\n  next:\n    cmd: "echo next"\n    needs: [long]\n`,
      );
      const out = await run('p.yaml', {
        onStart: (stage, worker) => {
          if (stage === 'long')
            void waitFor('long to start', async () => ((await ws.runCounts()).long ? true : undefined)).then(() =>
              slurm(['scancel', worker.replace('slurm:', '')]),
            );
        },
      });
      assert.equal(out.long!.action, 'failed');
      assert.match(out.long!.message!, /slurm job \d+ CANCELLED/);
      assert.equal(out.next!.action, 'skipped');

      await ws.write(
        'q.yaml',
        `stages:\n  a:\n    cmd: "echo a >> runs.log && sleep 60"\n  b:\n    cmd: "echo b >> runs.log && sleep 60"\n    needs: [a]\n`,
      );
      const controller = new AbortController();
      const t0 = Date.now();
      const out2 = await run('q.yaml', {
        signal: controller.signal,
        onStart: () =>
          void waitFor('a to start', async () => ((await ws.runCounts()).a ? true : undefined)).then(() =>
            controller.abort(),
          ),
      });
      assert.ok(Date.now() - t0 < 40_000, `stopped in ${Date.now() - t0} ms`);
      assert.equal(out2.a!.message, 'interrupted');
      // b never started: a run stopped by Ctrl-C starts nothing more and reports no outcome for it.
      assert.ok(out2.b === undefined || ['failed', 'skipped'].includes(out2.b.action), out2.b?.action);
      await waitFor('the queue to empty', () => (slurm(['squeue', '-h']).trim() === '' ? true : undefined), 20_000);
    });
  },
);

test('a requeued job runs again under the same job id and completes; the run says so', { skip }, async () => {
  await withWorkspace(async (ws, run) => {
    await ws.write(
      'p.yaml',
      `stages:\n  again:\n    cmd: "echo again >> runs.log && sleep 3 && echo done > \${out}/d"\n`,
    );
    const notices: string[] = [];
    let requeued = false;
    const out = await run('p.yaml', {
      onNotice: (m) => notices.push(m),
      onStart: (_stage, worker) => {
        if (requeued) return;
        requeued = true;
        const id = worker.replace('slurm:', '');
        void waitFor('the stage to start', async () => ((await ws.runCounts()).again ? true : undefined)).then(() =>
          slurm(['scontrol', 'requeue', id]),
        );
      },
    });
    assert.equal(out.again!.action, 'ran', out.again!.message);
    assert.ok(
      notices.some((n) => /requeued/.test(n)),
      notices.join('\n'),
    );
    assert.equal((await ws.runCounts()).again, 2, 'it ran twice: before and after the requeue');
  });
});

test('--slurm-args is split like shell words, without a shell', () => {
  assert.deepEqual(splitSlurmArgs(`--mem=4G --time="01:00:00" -A 'my account' --comment=$HOME`), [
    '--mem=4G',
    '--time=01:00:00',
    '-A',
    'my account',
    '--comment=$HOME',
  ]);
  assert.deepEqual(splitSlurmArgs(undefined), []);
  assert.throws(() => splitSlurmArgs('--mem=4G; rm -rf /'), /shell syntax \(";"\) is not allowed/);
  assert.throws(() => splitSlurmArgs('--x $(id) | cat'), /shell syntax/);
  assert.throws(() => splitSlurmArgs('script.sh --mem=1G'), /not an sbatch option/);
});
