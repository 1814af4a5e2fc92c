/**
 * The text a `cmd` stage runs: its command (templated at load time, see src/pipeline/command.ts)
 * behind an export of the run-time values its references read, TAILOR_OUT (the output folder) and
 * TAILOR_NEED_<NAME> (each upstream folder), each a single-quoted literal, so a path with spaces,
 * quotes or `$` reaches the command as one word of data.
 */
import { OUT_ENV, needEnvNames, withExports } from '../pipeline/cmd-env.js';

export function substituteRuntimePaths(cmd: string, out: string, needs: Record<string, string>): string {
  const entries: Array<[string, string]> = [[OUT_ENV, out]];
  for (const [stage, env] of needEnvNames(Object.keys(needs))) entries.push([env, needs[stage] ?? '']);
  return withExports(entries, cmd);
}
