/**
 * Open the RemoteStore a URL names (see remote-url.ts for the forms). The S3 SDK is loaded only
 * for an s3:// URL: it is most of a push's start-up time, and a shared folder does not need it.
 */
import { ok, type Result } from '../result.js';
import { FolderStore } from './folder-store.js';
import type { RemoteStore } from './remote-store.js';
import { parseRemoteUrl } from './remote-url.js';

export async function openRemote(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Result<RemoteStore, string>> {
  const spec = parseRemoteUrl(url);
  if (!spec.ok) return spec;
  const s = spec.value;
  if (s.kind === 'file') return ok(new FolderStore(url, s.root));
  const { S3Store } = await import('./s3-store.js');
  return ok(new S3Store(url, s.bucket, s.prefix, env));
}
