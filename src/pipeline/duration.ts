/** Durations as a pipeline writes them (`timeout: 30m`): a number of seconds, or `90s`, `1h30m`, `500ms`. */

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds of a duration the schema accepted (a positive number, or number+unit parts). */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') return value;
  let total = 0;
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return total;
}

const DURATION_TEXT = /^\s*(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$/;

/** Seconds of a duration typed on the command line (`90s`, `1h30m`, or a bare number of seconds); undefined if malformed. */
export function durationSeconds(text: string): number | undefined {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) return Number(text);
  return DURATION_TEXT.test(text) ? parseDuration(text) : undefined;
}
