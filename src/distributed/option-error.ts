/**
 * A flag value the distributed executors cannot use (`--executor`, `--slurm-args`). Thrown by
 * the checks in this folder, which sits below the CLI; the CLI turns it into a usage error.
 */
export class OptionError extends Error {}

/** Run a check, turning its OptionError into the caller's own error type. */
export function asUsage<T>(check: () => T, wrap: (message: string) => Error): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof OptionError) throw wrap(e.message);
    throw e;
  }
}
