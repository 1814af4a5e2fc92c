/**
 * A test rig: a temporary workspace, the real `bin/tailor` run as a child process, and helpers
 * to count how often each stage really executed (cmd stages append to `runs.log`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const TAILOR = join(REPO, 'bin', 'tailor');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Workspace {
  private constructor(readonly dir: string) {}

  static async create(prefix = 'tailor-ws-'): Promise<Workspace> {
    return new Workspace(await mkdtemp(join(tmpdir(), prefix)));
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  async write(rel: string, content: string): Promise<void> {
    await mkdir(dirname(this.path(rel)), { recursive: true });
    await writeFile(this.path(rel), content);
  }

  async read(rel: string): Promise<string> {
    return readFile(this.path(rel), 'utf8');
  }

  exists(rel: string): boolean {
    return existsSync(this.path(rel));
  }

  /** Start the CLI without waiting (for kill and concurrency tests). */
  spawn(args: string[], env: Record<string, string> = {}): ChildProcess {
    return spawn(process.execPath, [TAILOR, ...args], {
      cwd: this.dir,
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Run the CLI to completion. */
  async tailor(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const child = this.spawn(args, env);
    return collect(child);
  }

  /** `tailor run --json` and the per-stage actions. */
  async run(
    args: string[] = [],
    env: Record<string, string> = {},
  ): Promise<{ code: number; actions: Record<string, string>; result: CliResult }> {
    const result = await this.tailor(['run', ...args, '--json'], env);
    let actions: Record<string, string> = {};
    try {
      const parsed = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as {
        stages?: Array<{ name: string; action: string }>;
      };
      actions = Object.fromEntries((parsed.stages ?? []).map((s) => [s.name, s.action]));
    } catch {
      // leave empty: the assertion on actions will show stdout/stderr
    }
    return { code: result.code, actions, result };
  }

  /** How many times each stage appended its name to runs.log. */
  async runCounts(): Promise<Record<string, number>> {
    if (!this.exists('runs.log')) return {};
    const counts: Record<string, number> = {};
    for (const line of (await this.read('runs.log')).split('\n')) if (line) counts[line] = (counts[line] ?? 0) + 1;
    return counts;
  }

  async clearRuns(): Promise<void> {
    await rm(this.path('runs.log'), { force: true });
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolveRun, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
  });
}

/** Names of stages with a given action. */
export function withAction(actions: Record<string, string>, action: string): string[] {
  return Object.entries(actions)
    .filter(([, a]) => a === action)
    .map(([n]) => n)
    .sort();
}
