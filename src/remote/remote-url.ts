/**
 * `--remote URL` / `TAILOR_REMOTE`: which remote cache, parsed into a typed spec. Two forms:
 * `s3://BUCKET[/PREFIX]` (endpoint, keys and region from the standard AWS environment) and
 * `file:///PATH` (a shared folder, e.g. NFS on a cluster).
 */
import { fileURLToPath } from 'node:url';
import { err, ok, type Result } from '../result.js';

export type RemoteSpec =
  { kind: 's3'; url: string; bucket: string; prefix: string } | { kind: 'file'; url: string; root: string };

/** Bucket names as S3 allows them (3-63 of lowercase letters, digits, dots and hyphens). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parse a remote URL; the error says what is wrong in words. */
export function parseRemoteUrl(url: string): Result<RemoteSpec, string> {
  const s3 = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (s3) {
    const bucket = s3[1]!;
    if (!BUCKET.test(bucket)) return err(`"${bucket}" is not a valid S3 bucket name (in ${url})`);
    const prefix = (s3[2] ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix.split('/').some((p) => p === '.' || p === '..'))
      return err(`the prefix of ${url} has a "." or ".." segment`);
    return ok({ kind: 's3', url, bucket, prefix: prefix ? `${prefix}/` : '' });
  }
  if (url.startsWith('file://')) {
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch (e) {
      return err(`${url} is not a usable file URL: ${(e as Error).message} (write file:///absolute/path)`);
    }
    return ok({ kind: 'file', url, root: root.replace(/\/+$/, '') || '/' });
  }
  return err(`unsupported remote "${url}": use s3://BUCKET[/PREFIX] or file:///PATH`);
}

/** The remote a command names: `--remote URL`, else $TAILOR_REMOTE, else none. */
export function remoteUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = flag ?? env.TAILOR_REMOTE;
  return url === undefined || url === '' ? undefined : url;
}
