/**
 * `StageError`: how a stage fails with a plain message. Thrown from a stage's `run`, it fails
 * the stage with exactly `message` — no stack trace in the log or on the terminal — where any
 * other error is taken for a bug and logged with its stack.
 *
 *   import { StageError } from 'tailor';
 *   if (rows.length === 0) throw new StageError(`${file} has no rows`);
 */
const BRAND = Symbol.for('tailor.StageError');

export class StageError extends Error {
  override name = 'StageError';
  readonly [BRAND] = true;

  /**
   * True for a StageError from any copy of tailor (a user stage may import the compiled package
   * while a built-in one imports the sources, so `instanceof` alone would miss it).
   */
  static is(e: unknown): e is StageError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
  }
}
