/**
 * The `yaml` package, loaded on first use. Importing it costs ~45 ms, which a load served from the
 * parsed-tree cache (tree-cache.ts) never needs to pay.
 */
import { createRequire } from 'node:module';

type Yaml = typeof import('yaml');
let mod: Yaml | undefined;

/** The yaml module (the same CommonJS build a static import gets on Node). */
export function yaml(): Yaml {
  mod ??= createRequire(import.meta.url)('yaml') as Yaml;
  return mod;
}
