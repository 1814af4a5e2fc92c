/** POSIX shell quoting for values substituted into a stage's `cmd`. */

/**
 * Quote a value as one POSIX shell word: wrapped in single quotes, each `'` written as `'\''`.
 * Always quotes (even safe-looking words) so a value can never add shell syntax.
 * Non-strings are stringified first: numbers and booleans as written, objects/arrays as JSON.
 */
export function shellQuote(value: unknown): string {
  const text =
    typeof value === 'string'
      ? value
      : value === undefined
        ? ''
        : typeof value === 'object' && value !== null
          ? JSON.stringify(value)
          : String(value);
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
