/**
 * Code fingerprint of a stage module: the module file and every local file it imports
 * (transitively), each hashed over its token stream so comments and whitespace do not count,
 * plus the installed version of every package it imports.
 *
 * Parsing TypeScript is the slow part (loading `typescript` alone takes ~0.2 s), so per-file
 * results are memoised on disk by raw content hash: an unchanged tree never loads the compiler.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import type { CodeFingerprint } from '../cache/key-ingredients.js';

interface FileFacts {
  tokens: string;
  imports: string[];
}

type FactsCache = Record<string, FileFacts>;

const SOURCE_EXT = /\.(?:[cm]?ts|tsx|[cm]?js|jsx)$/;

/** Computes fingerprints, memoising files within one invocation and across runs via a JSON cache. */
export class CodeFingerprinter {
  private readonly memo = new Map<string, FileFacts>();
  private readonly disk: FactsCache;
  private dirty = false;
  private ts: typeof import('typescript') | undefined;

  constructor(private readonly cacheFile?: string) {
    this.disk = cacheFile ? loadFactsCache(cacheFile) : {};
  }

  /** Fingerprint of a module and its transitive local imports; paths shown relative to `base`. */
  fingerprint(modulePath: string, base: string): CodeFingerprint {
    const files: Record<string, string> = {};
    const packages: Record<string, string> = {};
    const queue = [resolve(modulePath)];
    const seen = new Set<string>();
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const facts = this.facts(file);
      files[relative(base, file) || file] = facts.tokens;
      for (const spec of facts.imports) {
        if (spec.startsWith('.') || spec.startsWith('/')) {
          const target = resolveLocal(dirname(file), spec);
          if (target) queue.push(target);
        } else if (!spec.startsWith('node:') && !isBuiltin(spec)) {
          const name = packageName(spec);
          packages[name] ??= installedVersion(dirname(file), name);
        }
      }
    }
    return { files: sortKeys(files), packages: sortKeys(packages) };
  }

  /** Persist newly parsed files (atomic rename, so concurrent readers never see half a file). */
  save(): void {
    if (!this.cacheFile || !this.dirty) return;
    const tmp = `${this.cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.disk));
    renameSync(tmp, this.cacheFile);
    this.dirty = false;
  }

  private facts(file: string): FileFacts {
    const memo = this.memo.get(file);
    if (memo) return memo;
    const text = readFileSync(file, 'utf8');
    const raw = createHash('sha256').update(text).digest('hex');
    let facts = this.disk[raw];
    if (!facts) {
      facts = this.parse(file, text);
      this.disk[raw] = facts;
      this.dirty = true;
    }
    this.memo.set(file, facts);
    return facts;
  }

  private parse(file: string, text: string): FileFacts {
    this.ts ??= loadTypeScript();
    const ts = this.ts;
    const scanner = ts.createScanner(ts.ScriptTarget.Latest, /* skipTrivia */ true, ts.LanguageVariant.Standard, text);
    const K = ts.SyntaxKind;
    const hash = createHash('sha256');
    // The scanner alone cannot tell a regex from a division or a template's closing `}` from a
    // block's; re-scan both in context as the parser would, so no code is ever taken for a comment.
    const templateDepths: number[] = []; // brace depth at which each open template expression started
    let braceDepth = 0;
    let prev: import('typescript').SyntaxKind = K.Unknown;
    for (let kind = scanner.scan(); kind !== K.EndOfFileToken; kind = scanner.scan()) {
      if ((kind === K.SlashToken || kind === K.SlashEqualsToken) && regexAllowedAfter(ts, prev)) {
        kind = scanner.reScanSlashToken();
      } else if (kind === K.OpenBraceToken) {
        braceDepth++;
      } else if (kind === K.CloseBraceToken) {
        if (templateDepths.length > 0 && templateDepths[templateDepths.length - 1] === braceDepth) {
          templateDepths.pop();
          kind = scanner.reScanTemplateToken(false);
        } else {
          braceDepth--;
        }
      }
      if (kind === K.TemplateHead || kind === K.TemplateMiddle) templateDepths.push(braceDepth);
      hash.update(scanner.getTokenText());
      hash.update('\u0000');
      prev = kind;
    }
    const imports = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    return { tokens: hash.digest('hex'), imports: file.match(SOURCE_EXT) ? imports : [] };
  }
}

function regexAllowedAfter(ts: typeof import('typescript'), prev: import('typescript').SyntaxKind): boolean {
  const K = ts.SyntaxKind;
  return !(
    prev === K.Identifier ||
    prev === K.NumericLiteral ||
    prev === K.StringLiteral ||
    prev === K.CloseParenToken ||
    prev === K.CloseBracketToken ||
    prev === K.CloseBraceToken ||
    prev === K.ThisKeyword ||
    prev === K.PlusPlusToken ||
    prev === K.MinusMinusToken
  );
}

function loadTypeScript(): typeof import('typescript') {
  // typescript is CommonJS; createRequire keeps this synchronous.
  return createRequire(import.meta.url)('typescript') as typeof import('typescript');
}

/** Resolve `./x.js` the way tsx and TypeScript do: x.ts first, then the file itself, then index files. */
function resolveLocal(fromDir: string, spec: string): string | undefined {
  const base = resolve(fromDir, spec);
  const stem = base.replace(/\.(?:[cm]?js|jsx)$/, '');
  const candidates = [
    `${stem}.ts`,
    `${stem}.tsx`,
    `${stem}.mts`,
    base,
    `${base}.ts`,
    `${base}.js`,
    join(base, 'index.ts'),
    join(base, 'index.js'),
  ];
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function installedVersion(fromDir: string, name: string): string {
  let dir = fromDir;
  for (;;) {
    const pkg = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(pkg)) {
      try {
        return (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version ?? 'unknown';
      } catch {
        return 'unreadable';
      }
    }
    const up = dirname(dir);
    if (up === dir) return 'not-installed';
    dir = up;
  }
}

function loadFactsCache(file: string): FactsCache {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as FactsCache;
  } catch {
    return {};
  }
}

function sortKeys<T>(obj: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
