/**
 * Hostile values in `cmd`: every quoting context a reference can sit in, times values built to
 * break out of it, run by real shells (dash and bash). Nothing may execute (no PWNED file appears)
 * and the value must arrive byte-exact. Paths with spaces, quotes and `$` stand in for `${out}`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPipeline } from '../src/pipeline/load.ts';
import { formatDiagnostic } from '../src/pipeline/diagnostics.ts';
import { substituteRuntimePaths } from '../src/run/cmd-template.ts';

const HOSTILE: string[] = [
  '$(touch PWNED)',
  '`touch PWNED`',
  '; touch PWNED',
  '&& touch PWNED',
  '| touch PWNED',
  "'; touch PWNED; '",
  '"; touch PWNED; "',
  `'"'"'$(touch PWNED)'"'"'`,
  '\\"; touch PWNED; \\"',
  'a\nb; touch PWNED\n',
  '$(touch PWNED)\n\n',
  '*',
  '~',
  '~root',
  '-n',
  '--help',
  '-e \\x41',
  '\\',
  '\\n\\t',
  '$HOME ${HOME} $$ $? $1',
  '%s%n%d',
  '  two  spaces  ',
  '',
  'ünïcødé ✓ 🎉 \u00a0',
  '\t\ttab',
  'EOF',
  ')',
  '}',
  '$((1+1))',
  '${IFS}touch${IFS}PWNED',
  'a[$(touch PWNED)]',
];

/** Contexts: `@` is where `${params.x}` goes; each writes the value to `${out}/o`. `exact`: the expected file. */
const CONTEXTS: Array<{ cmd: string; exact?: (v: string) => string }> = [
  { cmd: "printf '%s' @ > ${out}/o", exact: (v) => v },
  { cmd: 'printf \'%s\' "@" > ${out}/o', exact: (v) => v },
  { cmd: "printf '%s' '@' > ${out}/o", exact: (v) => v },
  { cmd: "printf '%s' x@y'@'\"@\" > ${out}/o", exact: (v) => `x${v}y${v}${v}` },
  { cmd: 'sh -c \'printf "%s" @ > ${out}/o\'', exact: (v) => v },
  { cmd: 'sh -c "printf \'%s\' @ > ${out}/o"', exact: (v) => v },
  { cmd: 'sh -c "printf \'%s\' \\"@\\" > ${out}/o"', exact: (v) => v },
  { cmd: "sh -c \"printf '%s' '@' > ${out}/o\"", exact: (v) => v },
  { cmd: 'bash -ec \'sh -c "printf %s @ > ${out}/o"\'', exact: (v) => v },
  { cmd: "env LC_ALL=C sh -c 'printf %s @' > ${out}/o", exact: (v) => v },
  { cmd: 'sh -c \'printf %s "$1" > "$2"\' _ @ ${out}/o', exact: (v) => v },
  { cmd: 'eval "printf \'%s\' @ > ${out}/o"', exact: (v) => v },
  { cmd: "eval 'printf %s @ > ${out}/o'", exact: (v) => v },
  { cmd: 'cat > ${out}/o <<EOF\n@\nEOF', exact: (v) => `${v}\n` },
  { cmd: 'cat > ${out}/o <<-EOF\n\t@\n\tEOF', exact: (v) => `${v}\n` },
  { cmd: "sh <<EOF\nprintf '%s' @ > ${out}/o\nEOF", exact: (v) => v },
  { cmd: "sh -s <<'EOF'\nprintf '%s' @ > ${out}/o\nEOF", exact: (v) => v },
  { cmd: "printf '%s' \"$(printf '%s' @)\" > ${out}/o", exact: (v) => v.replace(/\n+$/, '') },
  { cmd: 'X=@; printf \'%s\' "$X" > ${out}/o', exact: (v) => v },
  { cmd: "if [ -n @ ] || true; then printf '%s' @ > ${out}/o; fi", exact: (v) => v },
  { cmd: 'for v in @; do printf \'%s\' "$v" > ${out}/o; done', exact: (v) => v },
  { cmd: "case @ in *) printf '%s' @ > ${out}/o;; esac", exact: (v) => v },
  { cmd: "printf '%s' @ | cat > ${out}/o", exact: (v) => v },
  { cmd: "{ printf '%s' @; } > ${out}/o", exact: (v) => v },
  { cmd: "(printf '%s' @) > ${out}/o # don't @ \"", exact: (v) => v },
  { cmd: 'trap "printf \'%s\' @ > ${out}/o" EXIT; true', exact: (v) => v },
  { cmd: 'f() { printf \'%s\' "$1" > ${out}/o; }; f @', exact: (v) => v },
  { cmd: "printf '%s' @ \\\n  > ${out}/o", exact: (v) => v },
  // Word splitting by the user's own unquoted $(…) or `…` is theirs: only check nothing runs.
  { cmd: 'echo $(printf %s @) > ${out}/o' },
  { cmd: 'echo `printf %s @` > ${out}/o' },
  { cmd: 'echo $(sh -c "printf %s @") > ${out}/o' },
];

/** A folder with spaces, quotes and `$` in its name, as a hostile --cache or workdir would be. */
function hostileDir(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'tailor hostile ')), `it's "$HOME" $(x) \`y\` *`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A value as YAML flow text, its `${` escaped (strings in YAML are templates). */
function yamlValue(value: unknown): string {
  return JSON.stringify(value).replaceAll('${', () => '$${');
}

/** Load a one-stage pipeline (params.x = value) and give the command a real shell would run. */
function command(work: string, cmd: string, value: unknown): string {
  const file = join(work, 'p.yaml');
  writeFileSync(file, `stages:\n  s:\n    cmd: ${JSON.stringify(cmd)}\n    params: { x: ${yamlValue(value)} }\n`);
  const r = loadPipeline(file, { workdir: work, cacheDir: false });
  if (!r.ok) assert.fail(r.error.map((d) => formatDiagnostic(d)).join('\n'));
  return r.value.stages[0]?.cmd ?? '';
}

const SHELLS = ['/bin/sh', ...(existsSync('/bin/bash') ? ['/bin/bash'] : [])];

/** Load a pipeline with one stage per value (params.x = value) and give each stage's command. */
function commands(work: string, cmd: string, values: readonly unknown[]): string[] {
  const file = join(work, 'p.yaml');
  const stages = values.map(
    (v, i) => `  s${i}:\n    cmd: ${JSON.stringify(cmd)}\n    params: { x: ${yamlValue(v)} }\n`,
  );
  writeFileSync(file, `stages:\n${stages.join('')}`);
  const r = loadPipeline(file, { workdir: work, cacheDir: false });
  if (!r.ok) assert.fail(r.error.map((d) => formatDiagnostic(d)).join('\n'));
  return values.map((_, i) => r.value.stages.find((s) => s.name === `s${i}`)?.cmd ?? '');
}

test('hostile values in every quoting context: nothing runs, the value arrives byte-exact (dash and bash)', () => {
  const work = hostileDir();
  let checked = 0;
  for (const ctx of CONTEXTS) {
    const cmds = commands(work, ctx.cmd.replaceAll('@', '${params.x}'), HOSTILE);
    const outs = HOSTILE.map((_, i) => join(work, `out ${i}`));
    // One shell per context: each value's command in its own subshell, in its own output folder.
    const script = cmds.map((c, i) => `(\n${substituteRuntimePaths(c, outs[i] ?? '', {})}\n)`).join('\n');
    for (const shell of SHELLS) {
      for (const o of outs) {
        rmSync(o, { recursive: true, force: true });
        mkdirSync(o);
      }
      rmSync(join(work, 'PWNED'), { force: true });
      const r = spawnSync(shell, ['-c', script], { cwd: work, encoding: 'utf8' });
      const what = `${shell}: ${JSON.stringify(ctx.cmd)}\n${r.stderr}`;
      assert.ok(!existsSync(join(work, 'PWNED')), `executed: ${what}\n${script}`);
      HOSTILE.forEach((v, i) => {
        assert.ok(!existsSync(join(outs[i] ?? '', 'PWNED')), `executed: ${what}`);
        if (!ctx.exact) return;
        assert.equal(
          readFileSync(join(outs[i] ?? '', 'o'), 'utf8'),
          ctx.exact(v),
          `${what} value ${JSON.stringify(v)}\n${cmds[i]}`,
        );
        checked++;
      });
    }
  }
  assert.ok(checked >= 28 * HOSTILE.length * SHELLS.length);
});

test('non-string values arrive as their YAML scalar text or compact JSON', () => {
  const work = hostileDir();
  const out = join(work, 'o');
  mkdirSync(out);
  const cases: Array<[unknown, string]> = [
    [224, '224'],
    [0.25, '0.25'],
    [-3, '-3'],
    [true, 'true'],
    [null, 'null'],
    [['a b', "it's", '$(touch PWNED)'], `["a b","it's","$(touch PWNED)"]`],
    [{ k: '`touch PWNED`', n: [1, 2] }, '{"k":"`touch PWNED`","n":[1,2]}'],
  ];
  for (const [value, text] of cases) {
    const cmd = substituteRuntimePaths(command(work, "sh -c 'printf %s ${params.x} > ${out}/v'", value), out, {});
    execFileSync('/bin/sh', ['-c', cmd], { cwd: work });
    assert.equal(readFileSync(join(out, 'v'), 'utf8'), text, JSON.stringify(value));
    assert.ok(!existsSync(join(work, 'PWNED')));
  }
});

test('vars, foreach items, ${out} and ${needs.NAME} reach the command as data too', () => {
  const work = hostileDir();
  const file = join(work, 'p.yaml');
  writeFileSync(
    file,
    [
      'vars: { v: "$(touch PWNED)", list: ["a b", "`touch PWNED`"] }',
      'stages:',
      '  up:',
      '    cmd: "true"',
      '  s:',
      '    foreach: "${vars.list}"',
      '    needs: [up]',
      `    cmd: "sh -c 'printf %s ${'${vars.v}'}:${'${item}'}:${'${needs.up}'} > ${'${out}'}/o'"`,
      '',
    ].join('\n'),
  );
  const r = loadPipeline(file, { workdir: work, cacheDir: false });
  if (!r.ok) assert.fail(r.error.map((d) => formatDiagnostic(d)).join('\n'));
  const up = join(work, "up 'dir' $X");
  for (const spec of r.value.stages.filter((s) => s.group === 's')) {
    const out = join(work, `out ${spec.name}`);
    mkdirSync(out);
    execFileSync('/bin/sh', ['-c', substituteRuntimePaths(spec.cmd ?? '', out, { up })], { cwd: work });
    assert.equal(readFileSync(join(out, 'o'), 'utf8'), `$(touch PWNED):${String(spec.item)}:${up}`);
  }
  assert.ok(!existsSync(join(work, 'PWNED')));
});

/** The diagnostics of a one-stage pipeline whose command is `cmd`. */
function errorsOf(cmd: string, x: unknown = '$(touch PWNED)'): string[] {
  const work = mkdtempSync(join(tmpdir(), 'tailor-refuse-'));
  const file = join(work, 'p.yaml');
  writeFileSync(file, `stages:\n  s:\n    cmd: ${JSON.stringify(cmd)}\n    params: { x: ${yamlValue(x)} }\n`);
  const r = loadPipeline(file, { workdir: work, cacheDir: false });
  return r.ok ? [] : r.error.map((d) => `${d.pos?.line}:${d.pos?.col} ${d.message}${d.hint ? ` (${d.hint})` : ''}`);
}

test('references that cannot be made safe are refused at their line and column', () => {
  const refused: Array<[string, RegExp]> = [
    ['python3 -c \'print("${params.x}")\'', /python3's program text/],
    ['perl -e \'print "${params.x}"\'', /perl's program text/],
    ['awk \'{ print "${params.x}" }\' f', /awk's program text/],
    ["sed 's/a/${params.x}/' f", /sed's program text/],
    ['sed -e "s/a/${params.x}/" f', /sed's program text/],
    ['make X=${params.x}', /make's program text/],
    ['echo $((${params.x} + 1))', /arithmetic/],
    ['(( ${params.x} > 1 ))', /arithmetic/],
    ['let y=${params.x}', /arithmetic/],
    ['[[ ${params.x} -eq 1 ]] && echo', /arithmetic/],
    ['echo $${HOME:-${params.x}}', /shell \$\{…\} expansion/],
    ['echo \\${params.x}', /backslash/],
    ['echo "\\${params.x}"', /backslash/],
    ['ssh host echo ${params.x}', /ssh hands its arguments/],
    ["su -c 'echo ${params.x}'", /su hands its arguments/],
    ["cat <<'EOF'\n${params.x}\nEOF", /quoted delimiter/],
    ['cat <<${params.x}\nx\n', /here-document delimiter/],
    ["echo $'a\\'b' ${params.x}", /\$'…'/],
    ['echo "`echo ${params.x}`"', /inside `…` inside double quotes/],
    ["sh -c 'echo ${params.x}", /unterminated single quote/],
  ];
  for (const [cmd, why] of refused) {
    const errors = errorsOf(cmd);
    assert.equal(errors.length, 1, `${cmd}: ${errors.join('; ')}`);
    assert.match(errors[0] ?? '', why, cmd);
    // Positions: the stage is on line 3, the command's text starts at column 10.
    if (!cmd.includes('\n')) assert.match(errors[0] ?? '', /^3:\d+ /, cmd);
  }
  const col = errorsOf('python3 -c \'print("${params.x}")\'')[0] ?? '';
  assert.equal(col.split(' ')[0], `3:${10 + 'python3 -c \'print(\\"'.length + 1}`);
});

test('options of a script run by an interpreter are data, not program text', () => {
  for (const cmd of [
    'python3 train.py -c ${params.x}',
    'perl tool.pl -e ${params.x}',
    "awk -v x=${params.x} '{ print x }' f",
    'sed -n 1p ${params.x}',
    'grep -e ${params.x} f',
    'make all',
  ])
    assert.deepEqual(errorsOf(cmd), [], cmd);
});

test('numbers are allowed where only numbers are safe', () => {
  for (const cmd of [
    "python3 -c 'print(${params.x} * 2)'",
    "awk '{ print $1 * ${params.x} }' f",
    'echo $((${params.x} + 1))',
    '[[ ${params.x} -eq 3 ]] && echo',
  ])
    assert.deepEqual(errorsOf(cmd, 3), [], cmd);
  const work = mkdtempSync(join(tmpdir(), 'tailor-num-'));
  const cmd = substituteRuntimePaths(command(work, 'echo $((${params.x} * 2)) > ${out}/n', 21), work, {});
  execFileSync('/bin/sh', ['-c', cmd], { cwd: work });
  assert.equal(readFileSync(join(work, 'n'), 'utf8'), '42\n');
});

test('a NUL in a value is refused; a command without ${ is kept as written', () => {
  assert.match(errorsOf('echo ${params.x}', 'a\u0000b')[0] ?? '', /NUL/);
  const work = mkdtempSync(join(tmpdir(), 'tailor-plain-'));
  assert.equal(command(work, "echo 'it''s' $HOME $$ > o", 1), "echo 'it''s' $HOME $$ > o");
  assert.equal(command(work, 'echo $${HOME} > o', 1), 'echo ${HOME} > o');
});
