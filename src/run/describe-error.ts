/**
 * Turning anything thrown outside a stage's own process into the one line a person reads: the
 * first line of its message (never a stack), with "disk full:" in front when that is the cause,
 * and a recovery command when the cache index itself is damaged.
 */

/** errno and SQLite codes that mean the disk (or quota) is full. */
const FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
/** SQLite codes of a damaged database file. */
const DAMAGED = new Set(['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CORRUPT_VTAB', 'SQLITE_IOERR_SHORT_READ']);

function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isDiskFull(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && FULL.has(code);
}

/** True when `e` says the index database is damaged (truncated, overwritten, not SQLite). */
export function isIndexDamage(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && (DAMAGED.has(code) || code.startsWith('SQLITE_CORRUPT'));
}

/** The one-line description of a thrown value. */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const first = e.message.split('\n')[0] ?? '';
  return isDiskFull(e) && !/^disk full/.test(first) ? `disk full: ${first}` : first;
}

/** What to tell a person whose cache index is damaged, with the command that repairs it. */
export function indexDamageMessage(cacheDir: string, e: unknown): string {
  const cause = describeError(e).replace(/^cannot open cache index \S+: /, '');
  return (
    `the cache index ${cacheDir}/index.sqlite is damaged (${cause}).\n` +
    `  repair it with: tailor doctor --repair-index --cache ${cacheDir}\n` +
    `  (it keeps every row it can still read; the damaged file is kept beside it)`
  );
}
