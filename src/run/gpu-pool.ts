/** GPU tokens: a stage with `resources: { gpu: N }` holds N device ids while it runs. */
import { execFileSync } from 'node:child_process';

/** Visible GPUs: $TAILOR_GPUS (a count), else `nvidia-smi -L`, else none. */
export function detectGpus(): number {
  const env = process.env.TAILOR_GPUS;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  try {
    const out = execFileSync('nvidia-smi', ['-L'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    });
    return out.split('\n').filter((l) => l.startsWith('GPU ')).length;
  } catch {
    return 0;
  }
}

export class GpuPool {
  private readonly free: number[];
  constructor(readonly total: number) {
    this.free = Array.from({ length: total }, (_, i) => i);
  }

  /** Whether `n` devices can be taken now (a request above the total is clamped by the caller). */
  canTake(n: number): boolean {
    return n <= this.free.length;
  }

  take(n: number): number[] {
    if (!this.canTake(n)) throw new Error(`internal error: ${n} GPUs requested, ${this.free.length} free`);
    return this.free.splice(0, n);
  }

  give(ids: number[]): void {
    this.free.push(...ids);
    this.free.sort((a, b) => a - b);
  }
}
