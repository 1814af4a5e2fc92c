/**
 * Short column names for experiment tables: `stage` + the last segment of the path
 * (`ensemble-pso.methods.train-head@mobilenet.holdout_micro_f1` -> `ensemble-pso.holdout_micro_f1`),
 * with more segments from the end only where two columns would otherwise read the same.
 */

/** `stage.a.b.c` -> [stage, [a, b, c]], where the stage is the longest known stage name prefix. */
function splitKey(key: string, stages: ReadonlySet<string>): [string, string[]] {
  const parts = key.split('.');
  // Stage names may hold dots only through foreach members (`group@item`), never here; still,
  // prefer the longest prefix that is a known stage.
  for (let n = parts.length - 1; n >= 1; n--) {
    const stage = parts.slice(0, n).join('.');
    if (stages.has(stage)) return [stage, parts.slice(n)];
  }
  return [parts[0] ?? key, parts.slice(1)];
}

/** A short, unique title per key, in the order given. */
export function shortNames(keys: readonly string[], stages: ReadonlySet<string>): Map<string, string> {
  const split = keys.map((k) => splitKey(k, stages));
  const depth = keys.map(() => 1);
  const title = (i: number): string => {
    const [stage, path] = split[i] as [string, string[]];
    const tail = path.slice(Math.max(0, path.length - (depth[i] as number)));
    return tail.length === 0 ? stage : `${stage}.${tail.join('.')}`;
  };
  for (let round = 0; round < 16; round++) {
    const byTitle = new Map<string, number[]>();
    keys.forEach((_, i) => byTitle.set(title(i), [...(byTitle.get(title(i)) ?? []), i]));
    let grew = false;
    for (const same of byTitle.values()) {
      if (same.length < 2) continue;
      for (const i of same)
        if ((depth[i] as number) < (split[i] as [string, string[]])[1].length) {
          depth[i] = (depth[i] as number) + 1;
          grew = true;
        }
    }
    if (!grew) break;
  }
  return new Map(keys.map((k, i) => [k, title(i)]));
}

/** Whether a smaller value of this metric is the better one (losses, errors, times). */
export function lowerIsBetter(metric: string): boolean {
  return /(loss|error|err|mse|mae|rmse|seconds|_s$|time|latency)/i.test(metric.slice(metric.lastIndexOf('.') + 1));
}
