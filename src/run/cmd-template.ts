/** Runtime substitution in `cmd`: `${out}` and `${needs.NAME}` become shell-quoted absolute paths. */
import { shellQuote } from '../pipeline/shell-quote.js';

export function substituteRuntimePaths(cmd: string, out: string, needs: Record<string, string>): string {
  return cmd.replace(/\$\{(out|needs\.([A-Za-z0-9._@-]+))\}/g, (whole, what: string, need: string | undefined) => {
    if (what === 'out') return shellQuote(out);
    const dir = need !== undefined ? needs[need] : undefined;
    if (dir === undefined) throw new Error(`internal error: \${needs.${need}} is not an upstream of this stage`);
    return shellQuote(dir);
  });
}
