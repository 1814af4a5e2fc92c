/**
 * The remote store on the S3 API (AWS S3, MinIO, Ceph, s3rver, ...): `s3://BUCKET[/PREFIX]`.
 *
 * Endpoint, credentials and region come from the standard AWS environment (`AWS_ENDPOINT_URL`,
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, the SDK's usual chain); an explicit
 * endpoint switches to path-style addressing, which S3-compatible servers expect. The SDK's
 * default "flexible checksums" are limited to operations that require them: several
 * S3-compatible servers (s3rver among them) store an aws-chunked body as is, and tailor verifies
 * every byte by its own content hash anyway.
 *
 * Files up to PART_BYTES go in one PUT from a buffer (the SDK can retry it); larger ones go as a
 * multipart upload (lib-storage) that holds at most QUEUE parts in memory, so a 10 GB shard costs
 * PART_BYTES × QUEUE of memory. An upload killed midway leaves an incomplete multipart upload,
 * which is invisible to readers and is aborted by `sweepIncomplete` (remote gc).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  PART_BYTES,
  RemoteError,
  type PutSource,
  type RangeSource,
  type RemoteCounters,
  type RemoteObjectInfo,
  type RemoteStore,
  type TransferHooks,
} from './remote-store.js';
import { withRetries } from './retry.js';

/** Parts of one multipart upload in flight (and in memory) at once. */
const QUEUE = 4;

export class S3Store implements RemoteStore {
  readonly counters: RemoteCounters = { requests: 0, retries: 0 };
  private readonly client: S3Client;

  constructor(
    readonly url: string,
    private readonly bucket: string,
    private readonly prefix: string,
    env: NodeJS.ProcessEnv = process.env,
    /** Keys per listing page (the server's default, 1000 on S3, when undefined). */
    private readonly pageSize?: number,
  ) {
    // The SDK warns on every start under Node 20 about its releases of 2027; tailor pins its
    // version through package-lock.json, so the warning only clutters the CLI's stderr.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
    this.client = new S3Client({
      region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      // Keys in `env` win; without them the SDK's usual chain (profiles, SSO, instance roles) applies.
      ...(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? {
            credentials: {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              sessionToken: env.AWS_SESSION_TOKEN || undefined,
            },
          }
        : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: Number(env.AWS_MAX_ATTEMPTS) || 5,
      // requestTimeout is the socket's idle timeout: a server that stops answering mid-body fails
      // the request (and the retry resumes) instead of hanging the push.
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
    });
    // Outermost middleware: it sees each operation once, after the SDK's retries, with their count.
    const attemptsOf = (x: unknown) =>
      (x as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;
    this.client.middlewareStack.add(
      (next) => async (args) => {
        this.counters.requests++;
        try {
          const out = await next(args);
          this.counters.retries += attemptsOf(out.output) - 1;
          return out;
        } catch (e) {
          this.counters.retries += attemptsOf(e) - 1;
          throw e;
        }
      },
      { step: 'initialize', name: 'tailorCounters' },
    );
  }

  async put(key: string, source: PutSource, hooks: TransferHooks = {}): Promise<void> {
    const Key = this.prefix + key;
    if ('stream' in source) return this.multipart(Key, source.stream(), hooks);
    await withRetries(
      async () => {
        if ('bytes' in source) return this.putBytes(Key, source.bytes, hooks);
        const size = (await stat(source.file)).size;
        if (size <= PART_BYTES) return this.putBytes(Key, await readFile(source.file), hooks);
        return this.multipart(Key, createReadStream(source.file, { highWaterMark: 1 << 20 }), hooks);
      },
      {
        signal: hooks.signal,
        retryable: (e) => !isClientFault(e),
        onRetry: (e) => {
          this.counters.retries++;
          hooks.onRetry?.(`upload ${key}: ${(e as Error).message}`);
        },
      },
    ).catch((e: unknown) => {
      throw this.wrap('upload', key, e);
    });
  }

  async openRange(key: string, offset: number, signal?: AbortSignal): Promise<RangeSource | undefined> {
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Range: offset > 0 ? `bytes=${offset}-` : undefined,
        }),
        { abortSignal: signal },
      );
      const from = Number(/^bytes (\d+)-/.exec(res.ContentRange ?? '')?.[1] ?? 0);
      return { body: res.Body as Readable, from };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      if (httpStatus(e) === 416) return { body: emptyStream(), from: offset }; // nothing left to read
      throw this.wrap('download', key, e);
    }
  }

  async read(key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    try {
      return await withRetries(
        async () => {
          const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), {
            abortSignal: signal,
          });
          return Buffer.from(await res.Body!.transformToByteArray());
        },
        { signal, retryable: (e) => !isNotFound(e) && !isClientFault(e) },
      );
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw this.wrap('download', key, e);
    }
  }

  async head(key: string): Promise<RemoteObjectInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return { key, size: res.ContentLength ?? 0, modifiedMs: res.LastModified?.getTime() ?? 0 };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw this.wrap('HEAD', key, e);
    }
  }

  async *list(prefix: string): AsyncIterable<RemoteObjectInfo> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
            MaxKeys: this.pageSize,
          }),
        );
      } catch (e) {
        throw this.wrap('list', prefix, e);
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.prefix)) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      let res;
      try {
        res = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true },
          }),
        );
      } catch (e) {
        throw this.wrap('delete', batch[0], e);
      }
      const failed = (res.Errors ?? []).filter((x) => x.Code !== 'NoSuchKey');
      if (failed.length > 0)
        throw new RemoteError(
          `${this.url}: could not delete ${failed[0]!.Key}: ${failed[0]!.Message ?? failed[0]!.Code}`,
        );
    }
  }

  async sweepIncomplete(olderThanMs: number): Promise<number> {
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadMarker,
          }),
        );
      } catch (e) {
        // Some S3-compatible servers (s3rver) do not implement the listing: nothing to sweep there.
        if ((e as { name?: string }).name === 'NotImplemented' || httpStatus(e) === 501) return removed;
        throw this.wrap('list uploads', this.prefix, e);
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || Date.now() - (u.Initiated?.getTime() ?? 0) < olderThanMs) continue;
        await this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId }),
        );
        removed++;
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return removed;
  }

  close(): void {
    this.client.destroy();
  }

  private async putBytes(Key: string, bytes: Uint8Array, hooks: TransferHooks): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key, Body: bytes, ContentLength: bytes.byteLength }),
      { abortSignal: hooks.signal },
    );
    hooks.onBytes?.(bytes.byteLength);
  }

  private async multipart(Key: string, body: Readable, hooks: TransferHooks): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body: body },
      partSize: PART_BYTES,
      queueSize: QUEUE,
    });
    let reported = 0;
    upload.on('httpUploadProgress', (p) => {
      const loaded = p.loaded ?? reported;
      if (loaded > reported) hooks.onBytes?.(loaded - reported);
      reported = Math.max(reported, loaded);
    });
    const onAbort = () => void upload.abort();
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } catch (e) {
      // What this attempt counted is sent again by the next one.
      if (reported > 0) hooks.onBytes?.(-reported);
      throw e;
    } finally {
      hooks.signal?.removeEventListener('abort', onAbort);
      body.destroy();
    }
  }

  private wrap(op: string, key: string | undefined, e: unknown): Error {
    if (e instanceof RemoteError || (e as { name?: string }).name === 'AbortError') return e as Error;
    const name = (e as { name?: string }).name ?? 'Error';
    const message = (e as Error).message || name;
    return new RemoteError(
      `${op} ${this.url}${key ? ` (${key})` : ''} failed: ${name === message ? name : `${name}: ${message}`}`,
      key,
    );
  }
}

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** A missing key (a missing bucket is an error: it says the URL or the setup is wrong). */
function isNotFound(e: unknown): boolean {
  const name = (e as { name?: string }).name;
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatus(e) === 404;
}

/** 4xx answers (bad credentials, no such bucket) do not get better by trying again. */
function isClientFault(e: unknown): boolean {
  const status = httpStatus(e);
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

function emptyStream(): Readable {
  return Readable.from([]);
}
