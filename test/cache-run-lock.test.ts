import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { acquireRunLock, readRunLock, type LockHolder } from '../src/cache/run-lock.js';

const RUN_LOCK = fileURLToPath(new URL('../src/cache/run-lock.ts', import.meta.url));
let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'tailor-lock-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * A real second process: acquires the lock (waiting WAIT seconds), prints one JSON line
 * `{ok, pid, holder?, waited}`, then holds it until it reads "release" on stdin (or exits at once
 * with EXIT_AT_ONCE, without releasing).
 */
const CHILD = `
  const { acquireRunLock } = await import(${JSON.stringify(RUN_LOCK)});
  const waited = [];
  const r = await acquireRunLock(process.env.CACHE, {
    waitSeconds: Number(process.env.WAIT), argv: ['tailor', 'run', 'child'], pollMs: 50,
    onWait: (h) => { waited.push(h.pid); console.log('WAITING'); },
  });
  console.log(JSON.stringify({ ok: r.ok, pid: process.pid, holder: r.ok ? undefined : r.error, waited }));
  if (!r.ok || process.env.EXIT_AT_ONCE) process.exit(0);
  process.stdin.on('data', (d) => { if (String(d).includes('release')) { r.value.release(); process.exit(0); } });
`;

interface ChildReport {
  ok: boolean;
  pid: number;
  holder?: LockHolder;
  waited: number[];
}

function startChild(
  cache: string,
  wait = 0,
  extraEnv: Record<string, string> = {},
): { child: ChildProcessWithoutNullStreams; report: Promise<ChildReport>; waiting: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
    env: { ...process.env, CACHE: cache, WAIT: String(wait), ...extraEnv },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const waiting = new Promise<void>((resolve) => child.stdout.on('data', () => out.includes('WAITING\n') && resolve()));
  const report = new Promise<ChildReport>((resolve, reject) => {
    child.stdout.on('data', () => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as ChildReport);
    });
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before reporting`)));
  });
  return { child, report, waiting };
}

function exited(child: ChildProcessWithoutNullStreams): Promise<unknown> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.on('exit', r));
}

test('a second process fails at once with the holder, or waits until the holder releases', async () => {
  const cache = join(root, 'contend');
  const holder = startChild(cache);
  const held = await holder.report;
  assert.equal(held.ok, true);

  const second = await startChild(cache, 0).report;
  assert.equal(second.ok, false);
  assert.equal(second.holder?.pid, held.pid);
  assert.equal(second.holder?.host, hostname());
  assert.deepEqual(second.holder?.argv, ['tailor', 'run', 'child']);
  assert.match(
    second.holder?.message ?? '',
    new RegExp(
      `^held by pid ${held.pid} on host .+ since \\S+ \\(\\d+ s ago\\), last heartbeat \\d+ s ago: tailor run child$`,
    ),
  );

  const waiter = startChild(cache, 20);
  await waiter.waiting;
  await sleep(300);
  holder.child.stdin.write('release\n');
  const got = await waiter.report;
  assert.equal(got.ok, true, 'the waiter gets the lock once the holder releases');
  assert.deepEqual(got.waited, [held.pid], 'onWait was told who it waited for, once');
  waiter.child.stdin.write('release\n');
  await Promise.all([exited(holder.child), exited(waiter.child)]);
  assert.equal(existsSync(join(cache, 'lock.json')), false);
});

test('the lock of a SIGKILLed holder is taken over; one of several racing takers wins', async () => {
  const cache = join(root, 'killed');
  const holder = startChild(cache);
  assert.equal((await holder.report).ok, true);
  holder.child.kill('SIGKILL');
  await exited(holder.child);
  assert.ok(existsSync(join(cache, 'lock.json')), 'a killed holder leaves its lock behind');

  const takers = [startChild(cache), startChild(cache), startChild(cache)];
  const reports = await Promise.all(takers.map((t) => t.report));
  const winners = reports.filter((r) => r.ok);
  assert.equal(winners.length, 1, `exactly one taker wins: ${JSON.stringify(reports)}`);
  for (const r of reports.filter((x) => !x.ok)) assert.equal(r.holder?.pid, winners[0]?.pid);
  // Losers exit as soon as they report; only the winner waits to be told to release.
  takers.forEach((t, i) => reports[i]?.ok && t.child.stdin.write('release\n'));
  await Promise.all(takers.map((t) => exited(t.child)));
});

test('a lock whose heartbeat stopped (another host) is taken over; a live one is not', async () => {
  const cache = join(root, 'stale');
  const file = join(cache, 'lock.json');
  const old = Date.now() - 60_000;
  mkdirSync(cache, { recursive: true });
  writeFileSync(
    file,
    JSON.stringify({
      pid: 4242,
      host: 'elsewhere',
      argv: ['tailor'],
      startedAt: old,
      heartbeatAt: Date.now(),
      token: 't0',
    }),
  );
  const live = await acquireRunLock(cache);
  assert.equal(live.ok, false, 'fresh heartbeat on another host: held');
  assert.equal(readRunLock(cache)?.host, 'elsewhere');

  writeFileSync(file, 'not json');
  const garbled = await acquireRunLock(cache);
  assert.equal(garbled.ok, false, 'a just-written unreadable lock is respected');
  if (!garbled.ok) assert.match(garbled.error.message, /unreadable lock file/);

  writeFileSync(
    file,
    JSON.stringify({ pid: 4242, host: 'elsewhere', argv: ['tailor'], startedAt: old, heartbeatAt: old, token: 't1' }),
  );
  utimesSync(file, old / 1000, old / 1000);
  const r = await acquireRunLock(cache);
  assert.equal(r.ok, true);
  if (r.ok) {
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).pid, process.pid);
    r.value.release();
    r.value.release();
  }
  assert.equal(existsSync(file), false);
});

test('the heartbeat refreshes the lock, notices a takeover, and release never deletes another holder’s lock', async () => {
  const cache = join(root, 'beat');
  const lost: Array<LockHolder | undefined> = [];
  const r = await acquireRunLock(cache, { heartbeatMs: 100, onLost: (h) => lost.push(h) });
  assert.ok(r.ok);
  if (!r.ok) return;
  const file = join(cache, 'lock.json');
  const first = JSON.parse(readFileSync(file, 'utf8')).heartbeatAt as number;
  await sleep(350);
  assert.ok((JSON.parse(readFileSync(file, 'utf8')).heartbeatAt as number) > first, 'heartbeat moved');

  const other = {
    pid: 1,
    host: 'h2',
    argv: ['x'],
    startedAt: Date.now(),
    heartbeatAt: Date.now(),
    token: 'someone-else',
  };
  writeFileSync(file, JSON.stringify(other));
  await sleep(300);
  assert.equal(r.value.lost, true);
  assert.equal(lost.length, 1);
  assert.equal(lost[0]?.pid, 1);
  r.value.release();
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).token, 'someone-else');
});

test('a holder that exits without releasing removes its lock on exit', async () => {
  const cache = join(root, 'exit');
  const c = startChild(cache, 0, { EXIT_AT_ONCE: '1' });
  assert.equal((await c.report).ok, true);
  await exited(c.child);
  assert.equal(existsSync(join(cache, 'lock.json')), false);
});
