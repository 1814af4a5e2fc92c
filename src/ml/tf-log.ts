/**
 * TensorFlow's own C++ log lines (oneDNN, cpu_feature_guard, ...) kept out of the user's terminal
 * unless asked for with TAILOR_TF_LOG=1. Two parts, because libtensorflow prints one line while it
 * loads, before any setting from inside the process can reach it: TF_CPP_MIN_LOG_LEVEL is set
 * before the binding loads (silences everything after), and the engine drops the load-time lines
 * from a stage's output by their absl format.
 */

/** Whether the user asked to see TensorFlow's log (TAILOR_TF_LOG=1). */
export function tensorflowLogWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes|on)$/i.test(env.TAILOR_TF_LOG ?? '');
}

/** Call before loading a native backend: warnings and errors only, unless the log was asked for. */
export function quietTensorFlow(env: NodeJS.ProcessEnv = process.env): void {
  if (tensorflowLogWanted(env)) env.TF_CPP_MIN_LOG_LEVEL ??= '0';
  else env.TF_CPP_MIN_LOG_LEVEL ??= '2';
}

const PREAMBLE = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';
/** absl's info line: `I0000 00:00:1796126105.397007    1683 port.cc:153] ...` (before absl is initialised the seconds count from the epoch). */
const INFO_LINE = /^I\d{4} \d{2}:\d{2}:\d+\.\d+\s+\d+ [\w.-]+:\d+\] /;

/**
 * True for a TensorFlow info line (or absl's preamble) that a stage's output should not show.
 * Warnings and errors (W, E, F lines) always pass.
 */
export function isTensorFlowNoise(line: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (tensorflowLogWanted(env)) return false;
  return line === PREAMBLE || INFO_LINE.test(line);
}
