/** bench:scale's result shape and its Markdown report (bench/results/scale.md), one section per scale. */

export interface StageFigure {
  stage: string;
  seconds: number;
  peak_rss_mb: number;
  /** 1, 5 and 15-minute load averages when the stage ended (the machine is shared). */
  loadavg_at_end?: number[];
}

export interface ScaleRun {
  scale: number;
  command: string;
  date: string;
  machine: Record<string, unknown>;
  pipeline: {
    sizes: { train: number; validation: number; test: number };
    dim: number;
    min_label_count: number;
    labels_kept: number;
    stages: StageFigure[];
    heads: Record<string, unknown>;
    /** Absent in a partial run that did not reach them. */
    holdout?: { frequency_baseline_micro_f1: number; threshold_micro_f1: number };
    test?: { rows: number; submission_micro_f1: number; frequency_baseline_micro_f1: number };
  };
  /** Set while the run is under way (or when it died): what was reached so far; figures are written after each stage. */
  partial?: string;
  fetch_pad?: {
    small: Record<string, unknown>;
    large: Record<string, unknown>;
    rss_ratio_large_to_small: { fetch: number; pad: number };
  };
  seconds: number;
  loadavg_at_end: number[];
}

const RSS_TARGET_MB = 4096;
/** The feature width of the issue's figures (MobileNetV2 multi-scale: 1,280 + pooled stage ends). */
export const REAL_DIM = 2288;

/** Results key: the scale, and the feature width when it is not the real one. */
export function runKey(scale: number, dim: number): string {
  return dim === REAL_DIM ? String(scale) : `${scale}-dim${dim}`;
}

const WALL_TARGET_S = 3600;
const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f3 = (x: number) => x.toFixed(3);

function section(r: ScaleRun): string[] {
  const p = r.pipeline;
  const worst = Math.max(...p.stages.map((s) => s.peak_rss_mb));
  const total = p.stages.reduce((a, s) => a + s.seconds, 0);
  const lines = [
    `## Scale ${r.scale}${p.dim === REAL_DIM ? '' : `, ${p.dim} features per image`}` +
      (r.scale === 1 && p.dim === REAL_DIM
        ? ' (the real size)'
        : r.scale === 1
          ? ' (the real number of images; features narrower than the real 2,288, to measure what grows with the images in less time)'
          : ` (${r.scale} of the real number of images)`),
    '',
    `Command: \`${r.command}\`, ${r.date}. Machine: ${JSON.stringify(r.machine)}; load average at end ${JSON.stringify(r.loadavg_at_end)} (shared machine: seconds are noisy). Whole bench ${f0(r.seconds)} s${r.partial ? ' so far' : ''}.`,
    '',
    ...(r.partial ? [`**Partial run**: ${r.partial}.`, ''] : []),
    `${p.sizes.train.toLocaleString('en')} train, ${p.sizes.validation.toLocaleString('en')} validation, ${p.sizes.test.toLocaleString('en')} test images; 228 labels, ${p.labels_kept} kept at min_label_count ${p.min_label_count}; ${p.dim} float16 features per image.`,
    '',
    '| stage | seconds | peak RSS (MB) | load average at its end (1, 5, 15 min) |',
    '| --- | ---: | ---: | --- |',
    ...p.stages.map(
      (s) => `| ${s.stage} | ${f1(s.seconds)} | ${f0(s.peak_rss_mb)} | ${s.loadavg_at_end?.join(', ') ?? '-'} |`,
    ),
    `| **pipeline total${r.partial ? ' so far' : ''}** | **${f1(total)}** | **max ${f0(worst)}** | |`,
    '',
    `Targets: every stage <= 4 GB peak RSS: ${worst <= RSS_TARGET_MB ? 'met' : 'MISSED'} (max ${f0(worst)} MB). ` +
      wallTarget(r) +
      (r.scale === 1 && p.dim === REAL_DIM ? '.' : ` at this scale and width; not a measurement of the full size.`),
    '',
    p.holdout && p.test
      ? `Learning (1 epoch per head): holdout micro-F1 after threshold ${f3(p.holdout.threshold_micro_f1)} vs frequency baseline ${f3(p.holdout.frequency_baseline_micro_f1)}; ` +
        `the submission scored against the test images' hidden labels: ${f3(p.test.submission_micro_f1)} vs the baseline's ${f3(p.test.frequency_baseline_micro_f1)} on the same ${p.test.rows.toLocaleString('en')} rows. Heads: ${JSON.stringify(p.heads)}.`
      : `Learning: the scored stages were not reached. Heads so far: ${JSON.stringify(p.heads)}.`,
    '',
  ];
  const fp = r.fetch_pad;
  if (fp) {
    const row = (x: Record<string, unknown>, s: 'fetch' | 'pad') => {
      const f = x[s] as StageFigure & { images_per_s: number; stage_seconds: number };
      return `| ${s} | ${String(x.images)} | ${f1(f.stage_seconds)} | ${f1(f.seconds)} | ${f0(f.images_per_s)} | ${f0(f.peak_rss_mb)} |`;
    };
    lines.push(
      '### fetch + pad from a loopback HTTP server',
      '',
      "Distinct JPEGs (8 photo-like bases of 480-592 x 360-416 px with unique trailing bytes) from a server in its own process; fetch at concurrency 64, pad to 224 px at JPEG q85. Stage seconds: the stage's own clock; child seconds add starting Node and loading the module.",
      '',
      '| stage | images | stage seconds | child seconds | images/s (stage clock) | peak RSS (MB) |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      row(fp.small, 'fetch'),
      row(fp.large, 'fetch'),
      row(fp.small, 'pad'),
      row(fp.large, 'pad'),
      '',
      `Peak RSS ratio, ${String(fp.large.images)} to ${String(fp.small.images)} images (10x the images): fetch ${f3(fp.rss_ratio_large_to_small.fetch)}, pad ${f3(fp.rss_ratio_large_to_small.pad)}.`,
      '',
    );
  } else lines.push('fetch + pad: not run (--skip-fetch).', '');
  return lines;
}

/** The 60-minute target: met, missed by how much, or (a partial run) not decided unless already over. */
function wallTarget(r: ScaleRun): string {
  const min = f0(r.seconds / 60);
  if (r.seconds > WALL_TARGET_S)
    return `Whole bench <= 60 min: MISSED by ${f0((r.seconds - WALL_TARGET_S) / 60)} min (${min} min${r.partial ? ' and not finished' : ''})`;
  return r.partial
    ? `Whole bench <= 60 min: not decided (${min} min so far, not finished)`
    : `Whole bench <= 60 min: met (${min} min${r.fetch_pad ? '' : '; the pipeline stages only, fetch + pad not run'})`;
}

export function scaleReport(runs: Record<string, ScaleRun>): string {
  const ordered = Object.values(runs).sort((a, b) => b.scale - a.scale || b.pipeline.dim - a.pipeline.dim);
  return [
    '# bench:scale — the challenge at its real size (synthetic data)',
    '',
    "bench/scale.ts: a synthetic dataset of 1,014,544 train, 9,897 validation, 39,706 test images and 228 long-tailed labels (times the scale), features from a seeded generator in which each label adds its own direction to Gaussian noise; split -> features (written by precompute's own split writer, writeSplitShards, as float16 shards) -> train-head x2 (1 epoch) -> ensemble-pso -> threshold -> submit, each stage in its own child process (seconds include loading the module). One section per scale measured; a scale below 1 is a fraction of the real size, not the real size.",
    '',
    "What the runs show: peak RSS grows with the number of images only through what is images x labels or smaller (label matrix, ids, split's compact label rows): 1,023 MB at most (train-head with a [512] head) at the full size, 1,014,544 images x 2,288 features, 763 MB at 0.1 of the images; the feature width does not enter memory, since train-head reads each batch from the shards. The full size ran in 50 min (3,016 s) with the load average at 7-14 on these 2 cores from other work, so the 60-minute target was met under that load; train-head is 66% of it (the [512] head 1,392 s at 931 samples/s in its epoch, the linear head 595 s at 2,214 samples/s), the bench's own feature writer (in place of precompute) 25%. Where a train-head step's time goes, and what would make it faster: bench/results/head-speed.md.",
    '',
    ...(runs['1']
      ? []
      : [
          '**The full-size run (scale 1 at 2,288 features) has not been done**: only the runs below were measured.',
          '',
        ]),
    ...ordered.flatMap(section),
  ].join('\n');
}
