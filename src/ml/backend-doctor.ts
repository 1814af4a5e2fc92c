/**
 * What `tailor doctor` says about ML: the backend in use with its libtensorflow version and path,
 * why each other backend is not used, what the native install step recorded, and whether stages
 * asking for GPUs would get one.
 */
import { BACKEND_CHOICES, envChoice, packageVersion, type BackendChoice, type BackendName } from './backend.js';
import { probeBackend } from './backend-probe.js';
import { gpuBackendUsable } from './gpu-capable.js';
import { readNativeInstall, type NativeInstall } from './native-install.js';

export interface DoctorReport {
  backend: BackendName | null;
  details: string[];
  /** Why each other backend is not used: the ones before it failed, the ones after were not needed. */
  reasons: string[];
  libtensorflow: { version: string; dir: string } | null;
  gpu: boolean;
  /** The native install step's record (node_modules/.cache/tailor/native-backend.json). */
  install: NativeInstall | null;
  /** Whether `resources: { gpu: N }` stages hold GPU tokens here, and why (see gpu-capable.ts). */
  gpuStages: { usable: boolean; why: string };
  versions: Record<string, string | null>;
  error?: string;
}

const PACKAGES = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  'nsfwjs',
];

/** Probe the backend choice (in a child process) and list versions of the ML packages. */
export async function doctor(choice: BackendChoice = envChoice()): Promise<DoctorReport> {
  const versions: Record<string, string | null> = {};
  for (const pkg of PACKAGES) versions[pkg] = packageVersion(pkg);
  const base = { install: readNativeInstall() ?? null, gpuStages: gpuBackendUsable(), versions };
  const b = await probeBackend(choice);
  if (!b.ok)
    return { ...base, backend: null, details: [], reasons: [], libtensorflow: null, gpu: false, error: b.error };
  const order = BACKEND_CHOICES.filter((c) => c !== 'auto');
  const later = choice === 'auto' ? order.slice(order.indexOf(b.backend) + 1) : order.filter((n) => n !== b.backend);
  const notNeeded = later.map(
    (n) => `${n}: not needed (${choice === 'auto' ? `${b.backend} comes first` : `forced ${b.backend}`})`,
  );
  return {
    ...base,
    backend: b.backend,
    details: b.details,
    reasons: [...b.reasons, ...notNeeded],
    libtensorflow: b.libtensorflow,
    gpu: b.gpu,
  };
}

/** Human-readable lines of a doctor report. */
export function formatDoctor(r: DoctorReport): string[] {
  const lines = [
    r.backend
      ? `ml backend: ${r.backend} (${r.details.join(', ')})`
      : `ml backend: none (${r.error ?? 'unknown error'})`,
  ];
  for (const why of r.reasons) lines.push(`  not used: ${why}`);
  lines.push(`  native install step: ${describeInstall(r.install)}`);
  lines.push(`  GPU stages: ${r.gpuStages.usable ? 'hold GPU tokens' : 'run without GPU tokens'} (${r.gpuStages.why})`);
  for (const [pkg, v] of Object.entries(r.versions)) lines.push(`  ${pkg}: ${v ?? 'not installed'}`);
  return lines;
}

function describeInstall(i: NativeInstall | null): string {
  if (!i) return 'has not run here (npm run native-backend)';
  const when = i.at ? `, ${i.at}` : '';
  if (i.status !== 'ok') return `${i.status}: ${i.reason ?? 'no reason recorded'}${when}`;
  const lib = i.libtensorflow as (NativeInstall['libtensorflow'] & { fromCache?: boolean }) | undefined;
  const cached = lib?.fromCache ? ', libraries from cache' : '';
  const sha = lib?.sha256 ? `, sha256 ${lib.sha256.slice(0, 12)}…` : '';
  return `ok: ${i.package} on libtensorflow ${lib?.version ?? '?'} (${lib?.source ?? '?'}${sha}${cached}) in ${i.seconds?.toFixed(0) ?? '?'} s${when}`;
}
