/**
 * Asking which backend a stage would get, in a child process: `tailor doctor` must not load
 * libtensorflow into the CLI (its load-time log lines would reach the terminal, and the CLI would
 * carry TensorFlow's memory for nothing). The child's TensorFlow info lines are dropped; anything
 * else it writes to stderr passes through.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND_CHOICES, useBackend, type BackendChoice, type BackendName } from './backend.js';
import { isTensorFlowNoise } from './tf-log.js';

export type ProbeResult =
  | {
      ok: true;
      backend: BackendName;
      details: string[];
      reasons: string[];
      gpu: boolean;
      libtensorflow: { version: string; dir: string } | null;
    }
  | { ok: false; error: string };

const self = fileURLToPath(import.meta.url);

/** Run the backend choice in a fresh Node process and report what it picked. */
export function probeBackend(choice: BackendChoice): Promise<ProbeResult> {
  const execArgv = self.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return new Promise((done) => {
    const child = spawn(process.execPath, [...execArgv, self, choice], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (!isTensorFlowNoise(line)) process.stderr.write(line + '\n');
    });
    child.on('error', (e) => done({ ok: false, error: `could not start the probe: ${e.message}` }));
    child.on('close', (code) => {
      try {
        done(JSON.parse(out.trim().split('\n').at(-1) ?? '') as ProbeResult);
      } catch {
        done({ ok: false, error: `the backend probe exited with code ${code} without a result` });
      }
    });
  });
}

async function probeMain(choice: string): Promise<void> {
  const pick = (BACKEND_CHOICES as readonly string[]).includes(choice) ? (choice as BackendChoice) : 'auto';
  let result: ProbeResult;
  try {
    const b = await useBackend(pick);
    result = {
      ok: true,
      backend: b.name,
      details: b.details,
      reasons: b.reasons,
      gpu: b.gpu,
      libtensorflow: b.libtensorflow ?? null,
    };
  } catch (e) {
    result = { ok: false, error: (e as Error).message };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (process.argv[1] && resolve(process.argv[1]) === self) await probeMain(process.argv[2] ?? 'auto');
