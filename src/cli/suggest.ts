/** " (did you mean "x"?)" for a mistyped name, or "" when nothing is close. */
import { closest } from '../pipeline/levenshtein.js';

export function suggestName(name: string, candidates: Iterable<string>): string {
  const best = closest(name, candidates);
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}
