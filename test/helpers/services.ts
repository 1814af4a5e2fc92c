/**
 * Real services for the distributed tests: a redis-server on a free loopback port, and a
 * single-node Slurm cluster (munged + slurmctld + slurmd as root, no systemd) in a temp folder.
 *
 * Each start returns a handle that stops what it started; a test that cannot have the service
 * (binary missing, not root) skips with the reason from `redisMissing()` / `slurmMissing()`.
 * Everything lives in its own temp folder on its own ports, so two test processes (or two
 * helpers) never share a daemon. A process that dies mid-test leaves no daemon behind: every
 * pid is killed on exit.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const started = new Set<number>();
process.on('exit', () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function onPath(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolvePort(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntil(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------- redis

/** Why redis-server cannot be used here, or undefined when it can. */
export function redisMissing(): string | undefined {
  return onPath('redis-server') ? undefined : 'redis-server is not installed (apt-get install redis-server)';
}

export interface RedisService {
  url: string;
  port: number;
  /** Stop (SIGTERM: a persistent server writes its AOF) and start again on the same port and folder. */
  restart(): Promise<void>;
  /** Stop without restarting (the port stays reserved for a later restart()). */
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

function pingRedis(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(1000);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        sock.destroy();
        done(buf.startsWith('+PONG'));
      }
    });
    sock.on('error', () => done(false));
    sock.on('timeout', () => {
      sock.destroy();
      done(false);
    });
  });
}

/**
 * Start redis-server on a free loopback port. Default: nothing persisted (`--save '' --appendonly
 * no`); `persistent: true` keeps an append-only file fsynced on every write, so a restart loses
 * nothing that was acknowledged.
 */
export async function startRedis(opts: { persistent?: boolean } = {}): Promise<RedisService> {
  const dir = await mkdtemp(join(tmpdir(), 'tailor-redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(opts.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  let proc: ChildProcess | undefined;
  let log = '';

  const startServer = async (): Promise<void> => {
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = child;
    if (child.pid) started.add(child.pid);
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await waitUntil(
        `redis-server on port ${port}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}:\n${log}`);
          return pingRedis(port);
        },
        15_000,
      );
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
  };
  const stopServer = async (): Promise<void> => {
    const child = proc;
    proc = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    if (child.pid) started.delete(child.pid);
  };
  await startServer();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    startServer,
    stopServer,
    async restart() {
      await stopServer();
      await startServer();
    },
    async stop() {
      await stopServer();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------- slurm

const SLURM_BINS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'scontrol', 'squeue', 'scancel'];

/** Why a Slurm cluster cannot be started here, or undefined when it can. */
export function slurmMissing(): string | undefined {
  const absent = SLURM_BINS.filter((b) => !onPath(b));
  if (absent.length > 0)
    return `Slurm is not installed (${absent.join(', ')} missing; apt-get install slurmctld slurmd slurm-client munge)`;
  if (process.getuid?.() !== 0)
    return 'the single-node Slurm cluster runs as root (SlurmUser=root), and this is not root';
  try {
    execFileSync('id', ['-u', 'munge'], { stdio: 'ignore' });
  } catch {
    return 'no munge user (the munge package creates it)';
  }
  return undefined;
}

export interface SlurmCluster {
  /** Environment for sbatch/squeue/scontrol/scancel (and tailor) to reach this cluster. */
  env: { SLURM_CONF: string };
  dir: string;
  gpus: number;
  cpus: number;
  stop(): Promise<void>;
}

interface NodeShape {
  cpus: number;
  line: string;
}

/** The node's hardware as slurmd sees it (`slurmd -C`), so the config matches and the node is not drained. */
function nodeShape(): NodeShape {
  const out = execFileSync('slurmd', ['-C'], { encoding: 'utf8' });
  const first = out.split('\n').find((l) => l.startsWith('NodeName=')) ?? '';
  const field = (k: string) => new RegExp(`\\b${k}=(\\S+)`).exec(first)?.[1];
  const cpus = Number(field('CPUs') ?? '1');
  const keys = ['Boards', 'SocketsPerBoard', 'CoresPerSocket', 'ThreadsPerCore'];
  const parts = [`CPUs=${cpus}`, ...keys.flatMap((k) => (field(k) ? [`${k}=${field(k)}`] : []))];
  return { cpus, line: parts.join(' ') };
}

/**
 * GPU device nodes for gres.conf: character devices (Slurm rejects plain files) made with mknod
 * in the cluster folder, or, where mknod is not allowed, existing character devices standing in.
 */
function fakeGpuDevices(dir: string, n: number): string[] {
  mkdirSync(join(dir, 'dev'), { recursive: true });
  const made: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const path = join(dir, 'dev', `nvidia-fake${i}`);
      execFileSync('mknod', [path, 'c', '195', String(i)], { stdio: 'ignore' });
      made.push(path);
    }
    return made;
  } catch {
    const standIns = ['/dev/null', '/dev/zero', '/dev/full', '/dev/urandom', '/dev/random', '/dev/tty'];
    if (n > standIns.length) throw new Error(`mknod is not allowed here and ${n} fake GPUs need more stand-in devices`);
    return standIns.slice(0, n);
  }
}

/**
 * Start a one-node Slurm cluster: `gpus` fake GPUs as gres, the node's real CPUs (or `cpus`
 * cores, oversubscribed through config_overrides), ports and munge socket of its own.
 */
export async function startSlurm(opts: { gpus?: number; cpus?: number } = {}): Promise<SlurmCluster> {
  const gpus = opts.gpus ?? 2;
  const dir = await mkdtemp(join(tmpdir(), 'tailor-slurm-'));
  chmodSync(dir, 0o755); // munged wants every folder above its socket searchable
  const host = hostname().split('.')[0]!;
  const munge = { uid: Number(execFileSync('id', ['-u', 'munge'], { encoding: 'utf8' }).trim()), gid: 0 };
  munge.gid = Number(execFileSync('id', ['-g', 'munge'], { encoding: 'utf8' }).trim());
  const mungeDir = join(dir, 'munge');
  mkdirSync(mungeDir);
  chownSync(mungeDir, munge.uid, munge.gid);
  chmodSync(mungeDir, 0o711);
  const key = join(mungeDir, 'munge.key');
  if (existsSync('/etc/munge/munge.key')) copyFileSync('/etc/munge/munge.key', key);
  else writeFileSync(key, execFileSync('head', ['-c', '1024', '/dev/urandom']));
  chownSync(key, munge.uid, munge.gid);
  chmodSync(key, 0o600);
  const socket = join(mungeDir, 'munge.socket');

  const pids: number[] = [];
  const stopAll = async (): Promise<void> => {
    for (const pid of pids.reverse()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await sleep(300);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      started.delete(pid);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    execFileSync(
      'munged',
      [
        `--socket=${socket}`,
        `--key-file=${key}`,
        `--log-file=${join(mungeDir, 'munged.log')}`,
        `--pid-file=${join(mungeDir, 'munged.pid')}`,
        `--seed-file=${join(mungeDir, 'munged.seed')}`,
      ],
      { uid: munge.uid, gid: munge.gid, stdio: 'pipe' },
    );
    trackPid(join(mungeDir, 'munged.pid'), pids);

    const shape = nodeShape();
    const cpus = opts.cpus ?? shape.cpus;
    const nodeLine = opts.cpus ? `CPUs=${cpus}` : shape.line;
    const devices = gpus > 0 ? fakeGpuDevices(dir, gpus) : [];
    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    for (const sub of ['state', 'spool', 'log']) mkdirSync(join(dir, sub));
    const conf = join(dir, 'slurm.conf');
    writeFileSync(
      conf,
      [
        'ClusterName=tailortest',
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        // cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
        `AuthInfo=socket=${socket},cred_expire=10`,
        `StateSaveLocation=${join(dir, 'state')}`,
        `SlurmdSpoolDir=${join(dir, 'spool')}`,
        `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
        `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
        `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
        `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'GresTypes=gpu',
        'ReturnToService=2',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'MpiDefault=none',
        'MailProg=/bin/true',
        'SchedulerParameters=sched_interval=1',
        'MinJobAge=600',
        'KillWait=5',
        ...(opts.cpus ? ['SlurmdParameters=config_overrides'] : []),
        `NodeName=${host} NodeAddr=127.0.0.1 ${nodeLine}${gpus > 0 ? ` Gres=gpu:${gpus}` : ''} State=UNKNOWN`,
        `PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
        `PartitionName=other Nodes=${host} MaxTime=INFINITE State=UP`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'gres.conf'), devices.map((d) => `NodeName=${host} Name=gpu File=${d}`).join('\n') + '\n');
    const env = { SLURM_CONF: conf };
    execFileSync('slurmctld', ['-f', conf], { env: { ...process.env, ...env }, stdio: 'pipe' });
    trackPid(join(dir, 'slurmctld.pid'), pids);
    execFileSync('slurmd', ['-f', conf], { env: { ...process.env, ...env }, stdio: 'pipe' });
    trackPid(join(dir, 'slurmd.pid'), pids);
    await waitUntil(
      'the Slurm node to become idle',
      () => {
        try {
          const state = execFileSync('sinfo', ['-h', '-p', 'debug', '-o', '%T'], {
            env: { ...process.env, ...env },
            encoding: 'utf8',
          }).trim();
          return state === 'idle';
        } catch {
          return false;
        }
      },
      30_000,
    );
    return { env, dir, gpus, cpus, stop: stopAll };
  } catch (e) {
    const logs = ['log/slurmctld.log', 'log/slurmd.log', 'munge/munged.log']
      .map((f) => join(dir, f))
      .filter((f) => existsSync(f))
      .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
    await stopAll();
    throw new Error(`could not start the Slurm test cluster: ${(e as Error).message}\n${logs}`);
  }
}

/** Remember a daemon's pid (from its pid file, which it writes shortly after forking). */
function trackPid(pidFile: string, pids: number[]): void {
  for (let i = 0; i < 50; i++) {
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 0) {
        pids.push(pid);
        started.add(pid);
        return;
      }
    }
    execFileSync('sleep', ['0.1']);
  }
  throw new Error(`${pidFile} did not appear`);
}
