/** Open the RemoteStore a URL names (see remote-url.ts for the forms). */
import { ok, type Result } from '../result.js';
import { FolderStore } from './folder-store.js';
import type { RemoteStore } from './remote-store.js';
import { parseRemoteUrl } from './remote-url.js';
import { S3Store } from './s3-store.js';

export function openRemote(url: string, env: NodeJS.ProcessEnv = process.env): Result<RemoteStore, string> {
  const spec = parseRemoteUrl(url);
  if (!spec.ok) return spec;
  const s = spec.value;
  return ok(s.kind === 'file' ? new FolderStore(url, s.root) : new S3Store(url, s.bucket, s.prefix, env));
}
