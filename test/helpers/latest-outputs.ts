/** The latest output of each stage of a pipeline in a workspace's cache (keys and hashes), read from its index. */
import { Session } from '../../src/run/session.js';
import type { Workspace } from './rig.js';

export async function latestOutputs(ws: Workspace, cache: string, pipeline = 'p.yaml') {
  const s = await Session.open(ws.path(cache));
  try {
    return s.index.outputs.latestOfPipeline(pipeline);
  } finally {
    s.close();
  }
}
