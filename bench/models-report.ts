/** bench/results/models.md from the measurements of bench/models.ts, with the ratios and targets of issue 12. */
export type Json = Record<string, unknown>;

interface Run {
  run: string;
  backend?: string;
  workers?: number;
  threads?: number;
  images_per_s?: number;
  samples_per_s?: number;
  peak_rss_mb?: number;
  error?: string;
  torch?: string;
}

const f = (v: number | undefined, d = 1): string => (v === undefined ? 'n/a' : v.toFixed(d));
const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a && b ? a / b : undefined);
const verdict = (r: number | undefined, target: number): string =>
  r === undefined ? 'not measured' : r >= target ? `met (target ${target})` : `**missed** (target ${target})`;

function table(runs: Run[], rate: 'images_per_s' | 'samples_per_s', unit: string): string[] {
  return [
    `| run | backend actually used | ${unit} | peak RSS (MB) |`,
    '|---|---|---|---|',
    ...runs.map((r) =>
      r.error
        ? `| ${r.run} | error: ${r.error.slice(0, 160)} | | |`
        : `| ${r.run} | ${r.backend ?? (r.torch ? `PyTorch ${r.torch}` : '?')} | ${f(r[rate], rate === 'samples_per_s' ? 0 : 1)} | ${f(r.peak_rss_mb, 0)} |`,
    ),
  ];
}

export function report(r: Json): string {
  const m = r.machine as { cores: number; cpu: string; node: string; load_at_start: number[] };
  const pre = r.precompute as Array<{ backbone: string; size: number; images: number; runs: Run[] }>;
  const head = r.head as Run[];
  const by = (runs: Run[], name: string): Run | undefined => runs.find((x) => x.run === name && !x.error);
  const lines = [
    '# Models benchmark',
    '',
    `Command: \`npm run bench:models\` (\`node --import tsx bench/models.ts\`). Machine: ${m.cores} cores (${m.cpu}), Node ${m.node}; tfjs-node 4.22 on libtensorflow from the TensorFlow ${'2.21.0'} CPU wheel (built by \`npm install\`, see README), tfjs wasm (SIMD, one thread per worker); PyTorch from Debian's python3-torch. Load average at start ${JSON.stringify(m.load_at_start)} — the machine is shared with other jobs, so absolute rates are noisy; ratios come from the same run. Total ${f(r.seconds as number, 0)} s.`,
    '',
    'tailor: the whole precompute stage in a child process (start-up, model load from the converted cache, sharp decode, batches of 8, float16 shards, SQLite item cache), timed end to end. PyTorch: torchvision with random weights, PIL decode + [0,1] scaling + features + global average, batches of 8, after one warm-up forward (start-up excluded, which favours it).',
    '',
  ];
  for (const p of pre) {
    const native = by(p.runs, 'tailor, tfjs-node (in-process)');
    const torch2 = by(p.runs, 'PyTorch, 2 threads');
    const wasm2 = by(p.runs, 'tailor, wasm, 2 workers');
    const rt = ratio(native?.images_per_s, torch2?.images_per_s);
    lines.push(
      `## precompute: ${p.backbone} at ${p.size} px, ${p.images} JPEGs`,
      '',
      ...table(p.runs, 'images_per_s', 'images/s'),
      '',
      `tfjs-node / PyTorch 2 threads: ${f(rt, 2)} — ${verdict(rt, 1.3)}. tfjs-node / wasm 2 workers: ${f(ratio(native?.images_per_s, wasm2?.images_per_s), 2)}.`,
      '',
    );
  }
  const hn = by(head, 'tailor, tfjs-node');
  const t1 = by(head, 'PyTorch, 1 thread');
  const t2 = by(head, 'PyTorch, 2 threads');
  const bestTorch = Math.max(t1?.samples_per_s ?? 0, t2?.samples_per_s ?? 0) || undefined;
  const rh = ratio(hn?.samples_per_s, bestTorch);
  lines.push(
    '## train-head: dense head 1280 -> 256 -> 228, batch 64, random data (4096 rows, 4 epochs, the first left out as warm-up)',
    '',
    ...table(head, 'samples_per_s', 'samples/s'),
    '',
    `tfjs-node / the faster PyTorch run: ${f(rh, 2)} — ${verdict(rh, 1.0)}. tfjs-node / PyTorch 2 threads: ${f(ratio(hn?.samples_per_s, t2?.samples_per_s), 2)}; tfjs-node / wasm: ${f(ratio(hn?.samples_per_s, by(head, 'tailor, wasm (one thread)')?.samples_per_s), 2)}.`,
    '',
  );
  const ft = r.fine_tune as Array<
    Run & {
      route: string;
      activations_seconds: number;
      activations: number;
      head_seconds_per_epoch: number;
      fine_tune_seconds_per_epoch: number;
    }
  >;
  lines.push(
    `## fine-tune-backbone: MobileNetV2, last conv layer (Conv_1) + head, ${r.fine_tune_train_images} training images (default backend; phase 2 of issue 12 reworks fine-tuning)`,
    '',
    '| route | backend | caching activations (s, all splits) | head epoch (s) | fine-tune epoch (s) | peak RSS (MB) |',
    '|---|---|---|---|---|---|',
    ...ft.map((x) =>
      x.error
        ? `| ? | error: ${x.error.slice(0, 160)} | | | | |`
        : `| ${x.route} | ${x.backend} | ${f(x.activations_seconds)} (${x.activations} images) | ${f(x.head_seconds_per_epoch, 2)} | ${f(x.fine_tune_seconds_per_epoch, 2)} | ${f(x.peak_rss_mb, 0)} |`,
    ),
    '',
  );
  return lines.join('\n');
}
