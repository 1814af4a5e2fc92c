/** Resolving `needs`: foreach group names expand to all members; unknown names and self-needs are errors. */
import { error, keyPath } from './diagnostics.js';
import { sanitizeStageRef } from './foreach.js';
import { didYouMean } from './levenshtein.js';
import type { Instance } from './stage-instances.js';
import type { Diagnostic, SourcePos } from './types.js';

/** One `needs` edge: `from` needs `to`, written at `pos`. */
export interface Edge {
  to: string;
  pos: SourcePos;
}

/** Expanded needs of every instance (by instance name), each upstream once, in written order. */
export function resolveNeeds(instances: Instance[], diags: Diagnostic[]): Map<string, Edge[]> {
  const byName = new Map<string, Instance>();
  const byGroup = new Map<string, string[]>();
  for (const inst of instances) {
    byName.set(inst.name, inst);
    const members = byGroup.get(inst.group) ?? [];
    members.push(inst.name);
    byGroup.set(inst.group, members);
  }
  const edges = new Map<string, Edge[]>();
  const reported = new Set<string>();
  for (const inst of instances) {
    const list: Edge[] = [];
    edges.set(inst.name, list);
    const needs = inst.body.entries.get('needs')?.value;
    if (!inst.valid || needs?.kind !== 'seq') continue;
    const seen = new Set<string>();
    for (const item of needs.items) {
      if (item.kind !== 'scalar' || typeof item.value !== 'string') continue;
      const written = sanitizeStageRef(item.value);
      const targets = byName.has(written) ? [written] : byGroup.get(written);
      const key = keyPath('stages', inst.group, 'needs');
      if (!targets) {
        const msg = `stages.${inst.name} needs unknown stage "${written}"`;
        // Foreach members share the source line: say it once.
        if (!reported.has(`${msg}@${item.pos.line}:${item.pos.col}`)) {
          reported.add(`${msg}@${item.pos.line}:${item.pos.col}`);
          diags.push(error(msg, item.pos, key, didYouMean(written, [...byName.keys(), ...byGroup.keys()])));
        }
        continue;
      }
      for (const to of targets) {
        if (to === inst.name) {
          diags.push(error(`stage "${inst.name}" needs itself`, item.pos, key));
          continue;
        }
        if (seen.has(to)) continue;
        seen.add(to);
        list.push({ to, pos: item.pos });
      }
    }
  }
  return edges;
}
