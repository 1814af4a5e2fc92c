#!/usr/bin/env node
/**
 * tailor's install step for the native TensorFlow backend (`postinstall`; rerun any time with
 * `npm run native-backend`). It builds @tensorflow/tfjs-node (or -gpu where `nvidia-smi` sees a GPU)
 * on libtensorflow taken from the pinned TensorFlow wheel, sha256 checked, because the packages' own
 * install scripts download from a host that answers 403 (tensorflow/tfjs#8742).
 *
 * It never fails the install: whatever is missing (pip, the wheel, a compiler) it prints one line,
 * records why in node_modules/.cache/tailor/native-backend.json (read by `tailor doctor` and the
 * tests) and leaves the wasm backend in place. Idempotent: the extracted libraries and the built
 * binding are cached outside node_modules (npm ci deletes it), so a reinstall takes seconds.
 *
 * Environment: TAILOR_NATIVE=0 turns it off (=cpu or =gpu forces a variant); TAILOR_LIBTENSORFLOW
 * points at an existing libtensorflow folder (lib/ + include/) instead of the wheel;
 * TAILOR_NATIVE_CACHE moves the cache (default ~/.cache/tailor/native).
 */
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  appendFileSync,
  realpathSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGES, TF_VERSION, WHEELS } from './native/pins.mjs';
import { StepError, checkWheel, cudaRequirements, extractWheel, findPython, pipDownload } from './native/wheel.mjs';
import {
  bindingKey,
  buildBinding,
  clearBuild,
  ensurePackage,
  libtensorflowLayout,
  packageDir,
  placeLibraries,
  probe,
} from './native/binding.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = join(root, 'node_modules', '.cache', 'tailor');
const MARKER = join(stateDir, 'native-backend.json');
const LOG = join(stateDir, 'native-backend.log');

function log(text) {
  if (text) appendFileSync(LOG, text.endsWith('\n') ? text : text + '\n');
}

/** ~/.cache/tailor/native (survives `npm ci`), else node_modules/.cache when $HOME is not writable. */
function cacheRoot() {
  const wanted = process.env.TAILOR_NATIVE_CACHE
    ? resolve(process.env.TAILOR_NATIVE_CACHE)
    : join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tailor', 'native');
  try {
    mkdirSync(wanted, { recursive: true });
    accessSync(wanted, constants.W_OK);
    return wanted;
  } catch {
    const fallback = join(stateDir, 'native');
    mkdirSync(fallback, { recursive: true });
    return fallback;
  }
}

function gpuVisible() {
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && /^GPU \d+/m.test(r.stdout ?? '');
}

/**
 * libtensorflow of a variant from its wheel, extracted once into the cache. The cache entry is
 * valid only for the pinned file and digest; it is built in a temporary folder and renamed into
 * place, so concurrent installs (several worktrees) never see half an entry.
 */
async function libtensorflowFromWheel(variant, cache) {
  const pin = WHEELS[variant];
  const dir = join(cache, 'libtensorflow', `${variant}-${TF_VERSION}`);
  const stampFile = join(dir, 'wheel.json');
  if (existsSync(stampFile)) {
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    if (stamp.file === pin.file && (!pin.sha256 || stamp.sha256 === pin.sha256)) {
      return { layout: libtensorflowLayout(dir), sha256: stamp.sha256, fromCache: true };
    }
    rmSync(dir, { recursive: true, force: true });
  }
  const python = findPython();
  const work = mkdtempSync(join(cache, '.work-'));
  try {
    const wheel = await pipDownload(python, pin.requirement, work, log);
    const sha256 = await checkWheel(wheel, pin);
    const dest = join(work, 'out');
    const got = extractWheel(python, wheel, dest, log);
    if (got.libs.length !== 2) throw new StepError(`${pin.file} holds ${got.libs.join(', ') || 'no libtensorflow'}`);
    const cudaReqs = variant === 'gpu' ? cudaRequirements(python, wheel) : [];
    rmSync(wheel);
    const cuda = [];
    if (variant === 'gpu') {
      for (const req of cudaReqs) {
        const w = await pipDownload(python, req, work, log, ['manylinux_2_17_x86_64', 'manylinux2014_x86_64']);
        cuda.push({ file: w.split('/').at(-1) });
        extractWheel(python, w, dest, log);
        rmSync(w);
      }
    }
    writeFileSync(
      join(dest, 'wheel.json'),
      JSON.stringify({ file: pin.file, sha256, cuda, headers: got.headers }, null, 2),
    );
    mkdirSync(dirname(dir), { recursive: true });
    try {
      renameSync(dest, dir);
    } catch {
      if (!existsSync(stampFile)) throw new StepError(`could not move the extracted libraries to ${dir}`);
      // another install finished first: use its copy
    }
    return { layout: libtensorflowLayout(dir), sha256, fromCache: false };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function installVariant(variant, cache) {
  const timings = {};
  let t = Date.now();
  const lap = (name) => {
    timings[name] = (Date.now() - t) / 1000;
    t = Date.now();
  };
  const pkg = PACKAGES[variant];
  const version = ensurePackage(root, pkg, log);
  const pkgDir = packageDir(root, pkg);
  lap('package');
  let lib;
  const given = process.env.TAILOR_LIBTENSORFLOW;
  if (given) {
    const layout = libtensorflowLayout(given);
    const main = ['libtensorflow_cc.so.2', 'libtensorflow.so.2'].map((n) => join(layout.lib, n)).find(existsSync);
    const st = statSync(main);
    lib = {
      layout,
      source: 'TAILOR_LIBTENSORFLOW',
      identity: `${realpathSync(main)}:${st.size}:${st.mtimeMs}`,
      mode: 'symlink',
    };
  } else {
    const w = await libtensorflowFromWheel(variant, cache);
    lib = {
      layout: w.layout,
      source: `wheel ${WHEELS[variant].file}`,
      identity: w.sha256,
      sha256: w.sha256,
      mode: 'link',
      fromCache: w.fromCache,
    };
  }
  lap('libtensorflow');
  placeLibraries(pkgDir, lib.layout, lib.mode);
  const built = buildBinding(root, pkgDir, join(cache, 'bindings'), bindingKey(pkgDir, lib.identity), log);
  lap('binding');
  const p = probe(root, pkg);
  lap('probe');
  if (variant === 'gpu' && !p.gpu) {
    throw new StepError(`${pkg} loads but TensorFlow uses no GPU device (CUDA libraries or driver not found?)`);
  }
  return {
    package: pkg,
    version,
    variant,
    gpu: p.gpu,
    libtensorflow: {
      version: p.tf,
      dir: lib.layout.lib,
      source: lib.source,
      sha256: lib.sha256 ?? null,
      fromCache: lib.fromCache ?? false,
    },
    binding: { file: built.file, fromCache: built.fromCache },
    timings,
  };
}

function record(result) {
  writeFileSync(MARKER, JSON.stringify({ ...result, at: new Date().toISOString() }, null, 2) + '\n');
}

async function main() {
  const started = Date.now();
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(LOG, `tailor native backend install, ${new Date().toISOString()}\n`);
  const mode = (process.env.TAILOR_NATIVE ?? 'auto').toLowerCase();
  for (const pkg of Object.values(PACKAGES)) clearBuild(root, pkg);
  if (['0', 'off', 'false', 'no', 'wasm'].includes(mode)) {
    record({ status: 'disabled', reason: `TAILOR_NATIVE=${process.env.TAILOR_NATIVE}` });
    console.log(
      `tailor: native TensorFlow backend off (TAILOR_NATIVE=${process.env.TAILOR_NATIVE}); ML stages use wasm`,
    );
    return;
  }
  const variants = mode === 'cpu' ? ['cpu'] : mode === 'gpu' ? ['gpu'] : gpuVisible() ? ['gpu', 'cpu'] : ['cpu'];
  const failures = [];
  const cache = cacheRoot();
  for (const variant of variants) {
    try {
      const r = await installVariant(variant, cache);
      const seconds = (Date.now() - started) / 1000;
      record({ status: 'ok', ...r, seconds, failures });
      const how = r.binding.fromCache && r.libtensorflow.fromCache ? 'from cache' : `${seconds.toFixed(0)} s`;
      console.log(
        `tailor: native TensorFlow backend ready: ${r.package} on libtensorflow ${r.libtensorflow.version}${r.gpu ? ' (GPU)' : ''} (${how})`,
      );
      return;
    } catch (e) {
      if (!(e instanceof StepError)) log(e?.stack ?? String(e));
      failures.push(`${PACKAGES[variant]}: ${e?.message ?? e}`);
      log(`failed: ${failures.at(-1)}`);
    }
  }
  const reason = failures.join('; ');
  record({ status: 'failed', reason, seconds: (Date.now() - started) / 1000 });
  console.log(`tailor: native TensorFlow backend not installed (${reason}); ML stages use wasm. Details: ${LOG}`);
}

main().catch((e) => {
  // Never fail `npm install` over an optional speed-up.
  try {
    record({ status: 'failed', reason: `internal error: ${e?.message ?? e}` });
    log(e?.stack ?? String(e));
  } catch {
    // nothing more to do
  }
  console.log(
    `tailor: native TensorFlow backend not installed (internal error: ${e?.message ?? e}); ML stages use wasm`,
  );
});
