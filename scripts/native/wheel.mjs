/**
 * Getting libtensorflow out of a TensorFlow wheel: find a Python with pip, download the pinned wheel
 * (pip uses the machine's index configuration: PyPI or a mirror), check its sha256, and extract only
 * the two shared libraries and the C headers the binding includes (14 files, not the wheel's 13,000).
 * The GPU variant also fetches the CUDA wheels the TensorFlow wheel itself names for `and-cuda`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BINDING_HEADERS, PIP_TAGS } from './pins.mjs';

/** A failure the install step reports in one line (not a crash). */
export class StepError extends Error {}

/**
 * A Python that can run pip: `python3 -m pip` (or `python -m pip`). Returns the interpreter, or
 * throws a StepError saying what is missing.
 */
export function findPython() {
  for (const py of ['python3', 'python']) {
    const r = spawnSync(py, ['-m', 'pip', '--version'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return py;
  }
  throw new StepError('no Python with pip found (python3 -m pip)');
}

/**
 * `pip download --no-deps` of one requirement with the pinned tags into `dir`; returns the path of
 * the file pip saved. Bounded retries and timeout: an unreachable index fails in about a minute.
 */
export async function pipDownload(python, requirement, dir, log, extraPlatforms = []) {
  const args = ['-m', 'pip', 'download', '--no-deps', '--retries', '2', '--timeout', '30', '--dest', dir];
  args.push(...PIP_TAGS, ...extraPlatforms.flatMap((p) => ['--platform', p]), requirement);
  const before = new Set(await readdir(dir));
  log(`$ ${python} ${args.join(' ')}`);
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 20 * 60_000, maxBuffer: 1 << 24 });
  log(r.stdout ?? '');
  log(r.stderr ?? '');
  if (r.status !== 0) {
    const last = `${r.stderr ?? ''}`.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${r.status ?? r.signal}`;
    throw new StepError(`pip could not download ${requirement} (${last.replace(/^ERROR: /, '')})`);
  }
  const added = (await readdir(dir)).filter((f) => !before.has(f) && f.endsWith('.whl'));
  if (added.length !== 1) {
    // pip skips files already present: find the one for this requirement by name.
    const stem = requirement.split(/[=<>]/)[0].replace(/-/g, '_').toLowerCase();
    const found = (await readdir(dir)).find((f) => f.toLowerCase().startsWith(stem + '-') && f.endsWith('.whl'));
    if (!found) throw new StepError(`pip reported success but no wheel for ${requirement} is in ${dir}`);
    return join(dir, found);
  }
  return join(dir, added[0]);
}

/** Hex sha256 of a file, streamed. */
export function sha256File(path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Throws a StepError unless the wheel is the pinned file with the pinned digest. */
export async function checkWheel(path, pin) {
  const name = path.split('/').at(-1);
  if (name !== pin.file) throw new StepError(`pip returned ${name}, expected ${pin.file}`);
  const got = await sha256File(path);
  if (pin.sha256 && got !== pin.sha256) {
    throw new StepError(`${name}: sha256 ${got} is not the pinned ${pin.sha256}; not used`);
  }
  return got;
}

// Python's zipfile streams members out of the 274 MB wheel without reading it whole; the include
// closure follows `#include "..."` lines from the binding's headers through the wheel's own tree.
const EXTRACT = String.raw`
import json, os, re, shutil, sys, zipfile
wheel, dest, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
z = zipfile.ZipFile(wheel)
names = set(z.namelist())
out = {"libs": [], "headers": [], "nvidia": []}
def put(member, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with z.open(member) as src, open(target + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(target + ".part", target)
for lib in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2"):
    m = "tensorflow/" + lib
    if m in names:
        put(m, os.path.join(dest, "lib", lib)); out["libs"].append(lib)
inc = "tensorflow/include/"
todo, seen = list(headers), set()
rx = re.compile(rb'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
while todo:
    h = todo.pop()
    if h in seen or inc + h not in names: continue
    seen.add(h)
    todo.extend(m.group(1).decode() for m in rx.finditer(z.read(inc + h)))
for h in sorted(seen):
    put(inc + h, os.path.join(dest, "include", h)); out["headers"].append(h)
for m in sorted(names):
    if m.startswith("nvidia/") and re.search(r"/lib/[^/]+\.so(\.[0-9]+)*$", m):
        put(m, os.path.join(dest, m)); out["nvidia"].append(m)
print(json.dumps(out))
`;

/**
 * Extract into `dest`: lib/libtensorflow_cc.so.2 and lib/libtensorflow_framework.so.2, include/
 * with the header closure, and (CUDA wheels) nvidia/<pkg>/lib/*.so* in site-packages layout.
 */
export function extractWheel(python, wheel, dest, log) {
  const r = spawnSync(python, ['-c', EXTRACT, wheel, dest, JSON.stringify(BINDING_HEADERS)], {
    encoding: 'utf8',
    timeout: 10 * 60_000,
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    log(r.stderr ?? '');
    throw new StepError(`could not extract ${wheel}: ${`${r.stderr ?? ''}`.trim().split('\n').at(-1)}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

/** The `and-cuda` requirements listed in a TensorFlow wheel's METADATA (the CUDA wheels it needs). */
export function cudaRequirements(python, wheel) {
  const code = String.raw`
import re, sys, zipfile, json
z = zipfile.ZipFile(sys.argv[1])
meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
reqs = []
for line in z.read(meta).decode().splitlines():
    m = re.match(r"Requires-Dist: ([^;]+);\s*extra\s*==\s*['\"]and-cuda['\"]", line)
    if m: reqs.append(m.group(1).replace(" ", "").replace("(", "").replace(")", ""))
print(json.dumps(reqs))
`;
  const r = spawnSync(python, ['-c', code, wheel], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new StepError(`could not read the CUDA requirements of ${wheel}`);
  return JSON.parse(r.stdout.trim());
}
