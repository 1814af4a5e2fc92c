/**
 * Building the tfjs-node binding against a libtensorflow folder (lib/ + include/): the package's own
 * install script would download libtensorflow from a host that answers 403 (tensorflow/tfjs#8742),
 * so tailor's package.json denies it (`allowScripts`) and this module does its job instead: place
 * the libraries where binding.gyp links them (deps/lib, deps/include) and run node-gyp offline
 * against the headers Node ships. Built bindings are cached by everything that shapes them.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { StepError } from './wheel.mjs';

export function packageDir(root, pkg) {
  return join(root, 'node_modules', ...pkg.split('/'));
}

/** The installed version of a package, or null. */
export function installedVersion(root, pkg) {
  try {
    return JSON.parse(readFileSync(join(packageDir(root, pkg), 'package.json'), 'utf8')).version ?? null;
  } catch {
    return null;
  }
}

/** The version package-lock.json pins for a package, or null. */
export function lockedVersion(root, pkg) {
  try {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
    return lock.packages?.[`node_modules/${pkg}`]?.version ?? null;
  } catch {
    return null;
  }
}

/**
 * Make sure the package's files are in node_modules. npm ≥ 11.10 keeps them (allowScripts denies
 * its download script); an older npm runs that script, it fails, and npm drops the optional
 * package: then it is fetched again from the npm registry without scripts, at the locked version.
 */
export function ensurePackage(root, pkg, log) {
  const want = lockedVersion(root, pkg);
  const have = installedVersion(root, pkg);
  if (have && (!want || have === want)) return have;
  const spec = `${pkg}@${want ?? 'latest'}`;
  log(`${pkg} is not in node_modules (npm dropped it?): npm install --no-save --ignore-scripts ${spec}`);
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const r = spawnSync(
    npm[0],
    [...npm[1], 'install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', spec],
    { cwd: root, encoding: 'utf8', timeout: 10 * 60_000, maxBuffer: 1 << 24 },
  );
  log(r.stdout ?? '');
  log(r.stderr ?? '');
  const got = installedVersion(root, pkg);
  if (r.status !== 0 || !got) throw new StepError(`could not fetch ${spec} from the npm registry`);
  return got;
}

/**
 * Remove a package's earlier build (deps/ and the built binding), so that whatever this run of the
 * step decides — built, failed, turned off — is what the backend choice finds afterwards.
 */
export function clearBuild(root, pkg) {
  const dir = packageDir(root, pkg);
  if (!existsSync(join(dir, 'package.json'))) return;
  rmSync(join(dir, 'deps'), { recursive: true, force: true });
  rmSync(join(dir, 'build'), { recursive: true, force: true });
  try {
    rmSync(dirname(bindingTarget(dir).file), { recursive: true, force: true });
  } catch {
    // no N-API version fits: nothing was built
  }
}

/** The main library of a libtensorflow folder: the wheel's libtensorflow_cc or the C tarball's libtensorflow. */
function mainLibrary(libDir) {
  for (const name of ['libtensorflow_cc.so.2', 'libtensorflow.so.2']) if (existsSync(join(libDir, name))) return name;
  return undefined;
}

/**
 * Check a libtensorflow folder: `lib/` with the libraries (or the libraries at the top) and
 * `include/tensorflow/c/c_api.h`. Returns { lib, include, nvidia? } or throws a StepError.
 */
export function libtensorflowLayout(folder) {
  const root = resolve(folder);
  const lib = [join(root, 'lib'), root].find((d) => mainLibrary(d));
  if (!lib) throw new StepError(`${root}: no libtensorflow_cc.so.2 or libtensorflow.so.2 (in lib/ or at the top)`);
  if (!existsSync(join(lib, 'libtensorflow_framework.so.2')))
    throw new StepError(`${lib}: no libtensorflow_framework.so.2`);
  const include = join(root, 'include');
  if (!existsSync(join(include, 'tensorflow', 'c', 'c_api.h')))
    throw new StepError(`${root}: no include/tensorflow/c/c_api.h (the C headers the binding compiles against)`);
  const nvidia = existsSync(join(root, 'nvidia')) ? join(root, 'nvidia') : undefined;
  return { lib, include, nvidia };
}

/** Hard link (the cache may be cleaned later), else copy; `symlink` for folders the user manages. */
function place(from, to, mode) {
  if (mode === 'symlink') return symlinkSync(from, to);
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/**
 * Put the libraries into the package's deps/lib under the names binding.gyp links (-ltensorflow,
 * -ltensorflow_framework) and the sonames the loader looks for at run time (rpath
 * $ORIGIN/../../deps/lib), the headers into deps/include, and CUDA libraries (GPU wheels) both in
 * deps/nvidia (where the wheel's runpath $ORIGIN/../nvidia/... points) and flat in deps/lib.
 */
export function placeLibraries(pkgDir, layout, mode) {
  const deps = join(pkgDir, 'deps');
  rmSync(deps, { recursive: true, force: true });
  const lib = join(deps, 'lib');
  mkdirSync(lib, { recursive: true });
  for (const f of readdirSync(layout.lib)) {
    if (/^lib.*\.so(\.\d+)*$/.test(f)) place(join(layout.lib, f), join(lib, f), mode);
  }
  const main = mainLibrary(layout.lib);
  for (const alias of ['libtensorflow.so', 'libtensorflow.so.2.9.1']) {
    if (!existsSync(join(lib, alias))) symlinkSync(main, join(lib, alias));
  }
  if (!existsSync(join(lib, 'libtensorflow_framework.so')))
    symlinkSync('libtensorflow_framework.so.2', join(lib, 'libtensorflow_framework.so'));
  if (mode === 'symlink') symlinkSync(layout.include, join(deps, 'include'));
  else copyTree(layout.include, join(deps, 'include'));
  if (layout.nvidia) {
    symlinkSync(layout.nvidia, join(deps, 'nvidia'));
    for (const so of findSharedLibraries(layout.nvidia)) {
      const name = so.split('/').at(-1);
      if (!existsSync(join(lib, name))) symlinkSync(so, join(lib, name));
    }
  }
}

function copyTree(from, to) {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) copyTree(join(from, e.name), join(to, e.name));
    else copyFileSync(join(from, e.name), join(to, e.name));
  }
}

function findSharedLibraries(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /\.so(\.\d+)*$/.test(e.name)) out.push(join(e.parentPath ?? e.path, e.name));
  }
  return out;
}

/** Where node-pre-gyp (and so the package at run time) looks for the binding, as node-pre-gyp computes it. */
export function bindingTarget(pkgDir) {
  const pj = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const napi = Number(process.versions.napi);
  const versions = (pj.binary?.napi_versions ?? []).map(Number).filter((v) => v <= napi);
  if (versions.length === 0) throw new StepError(`${pj.name}: no N-API version this Node (${napi}) supports`);
  const build = Math.max(...versions);
  const modulePath = resolve(pkgDir, pj.binary.module_path.replace('{napi_build_version}', String(build)));
  return {
    napi: build,
    moduleName: pj.binary.module_name,
    modulePath,
    file: join(modulePath, `${pj.binary.module_name}.node`),
  };
}

/** npm's own node-gyp (npm ships one), or one resolvable from the project. */
function nodeGypScript(root) {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath)
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (which.status === 0) {
    try {
      const npmBin = realpathSync(which.stdout.trim());
      candidates.push(join(dirname(npmBin), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    } catch {
      // not resolvable: try the next candidate
    }
  }
  candidates.push(join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) throw new StepError('node-gyp not found (it ships with npm)');
  return found;
}

/** Node's headers next to this node (offline), else npm's configured nodedir, else node-gyp's download. */
function nodedirArgs() {
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'common.gypi'))) return [`--nodedir=${prefix}`];
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  return [];
}

/** Cache key of a built binding: package and version, Node's N-API, and the libraries' identity. */
export function bindingKey(pkgDir, libIdentity) {
  const pj = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  return createHash('sha256')
    .update(JSON.stringify([pj.name, pj.version, process.versions.napi, process.arch, libIdentity]))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Build the binding with node-gyp (about 15 s on 2 cores), or copy it from `cacheDir` when the same
 * key was built before. Returns the path of the .node file and whether it came from the cache.
 */
export function buildBinding(root, pkgDir, cacheDir, key, log) {
  const target = bindingTarget(pkgDir);
  const cached = join(cacheDir, `${key}.node`);
  mkdirSync(target.modulePath, { recursive: true });
  if (existsSync(cached)) {
    copyFileSync(cached, target.file);
    return { file: target.file, fromCache: true };
  }
  const args = [
    nodeGypScript(root),
    'rebuild',
    ...nodedirArgs(),
    `--jobs=${Math.max(1, cpus().length)}`,
    `--module_name=${target.moduleName}`,
    `--module_path=${target.modulePath}`,
    `--napi_build_version=${target.napi}`,
  ];
  log(`$ ${process.execPath} ${args.join(' ')}  (in ${pkgDir})`);
  const r = spawnSync(process.execPath, args, {
    cwd: pkgDir,
    encoding: 'utf8',
    timeout: 15 * 60_000,
    maxBuffer: 1 << 26,
  });
  log(r.stdout ?? '');
  log(r.stderr ?? '');
  if (r.status !== 0 || !existsSync(target.file)) {
    const err = `${r.stderr ?? ''}`.split('\n').find((l) => /error|not found/i.test(l) && !/^gyp info/.test(l));
    throw new StepError(`node-gyp could not build the binding${err ? `: ${err.trim()}` : ''}`);
  }
  rmSync(join(pkgDir, 'build'), { recursive: true, force: true });
  mkdirSync(cacheDir, { recursive: true });
  copyFileSync(target.file, `${cached}.part`);
  spawnSync('mv', [`${cached}.part`, cached]);
  return { file: target.file, fromCache: false };
}

/**
 * Load the package in a fresh Node process (never in this one) and run one op: proves the binding
 * and libraries load. Returns { tf: TF_Version, gpu: whether a GPU device is in use }.
 */
export function probe(root, pkg) {
  const code = `
    const tf = require(${JSON.stringify(pkg)});
    const b = tf.backend();
    const s = tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).sum().dataSync()[0];
    if (s !== 8) throw new Error('matMul gave ' + s);
    console.log(JSON.stringify({ tf: b.binding.TF_Version, gpu: Boolean(b.isUsingGpuDevice) }));`;
  const r = spawnSync(process.execPath, ['-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (r.status !== 0) {
    const line = `${r.stderr ?? ''}`.split('\n').find((l) => /Error|error/.test(l)) ?? `exit ${r.status ?? r.signal}`;
    throw new StepError(`the built ${pkg} does not load: ${line.trim()}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}
