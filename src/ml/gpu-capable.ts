/**
 * "Is a GPU-capable backend installed and loadable here?" — asked by the scheduler before it hands
 * out GPU tokens: on a machine with a GPU but no GPU backend, a `resources: { gpu: N }` stage would
 * otherwise queue for a token and then run on the CPU anyway. Answered from the install step's
 * record (it loaded the built tfjs-node-gpu in a child process and saw TensorFlow use a GPU) and
 * the binding on disk: no libtensorflow is loaded in the asking process.
 */
import { nativeBindingFile, readNativeInstall } from './native-install.js';

export interface GpuCapability {
  usable: boolean;
  why: string;
}

export function gpuBackendUsable(env: NodeJS.ProcessEnv = process.env): GpuCapability {
  const forced = env.TAILOR_BACKEND;
  if (forced && forced !== 'auto' && forced !== 'tfjs-node-gpu')
    return { usable: false, why: `TAILOR_BACKEND=${forced}` };
  if (!nativeBindingFile('@tensorflow/tfjs-node-gpu')) return { usable: false, why: 'tfjs-node-gpu is not built here' };
  const rec = readNativeInstall();
  if (rec?.status !== 'ok' || rec.package !== '@tensorflow/tfjs-node-gpu') {
    return { usable: false, why: 'the install step did not build tfjs-node-gpu' };
  }
  if (!rec.gpu) return { usable: false, why: 'tfjs-node-gpu loaded without a GPU device when it was built' };
  return {
    usable: true,
    why: `tfjs-node-gpu on libtensorflow ${rec.libtensorflow?.version ?? '?'} used a GPU when built`,
  };
}
