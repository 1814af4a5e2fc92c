/**
 * Which blobs a remote already has, asked cheaply: one HEAD per blob for a few hundred, else a
 * listing of just the `blobs/<ab>/` shards needed. Shard listings and uploads are remembered for
 * the life of one push, so a pipeline of many stages lists each shard at most once. A blob only
 * counts at its full size: one cut short by a killed upload is sent again.
 */
import pLimit from 'p-limit';
import { BLOBS, blobKey, hashOfKey } from './layout.js';
import type { RemoteStore } from './remote-store.js';

/** Up to this many unknown blobs are asked one HEAD each; more, and their shards are listed. */
const HEAD_AT_MOST = 1024;

export class BlobPresence {
  /** hash -> size of blobs known to be on the remote. */
  private readonly known = new Map<string, number>();
  private readonly listedShards = new Map<string, Promise<void>>();

  constructor(
    private readonly remote: RemoteStore,
    private readonly concurrency: number,
  ) {}

  /** The subset of `blobs` (hash -> size) the remote has. */
  async present(blobs: Map<string, number>): Promise<Set<string>> {
    const unknown = [...blobs].filter(([hash, size]) => this.known.get(hash) !== size);
    const limit = pLimit(Math.max(4, this.concurrency));
    if (unknown.length <= HEAD_AT_MOST) {
      await Promise.all(
        unknown.map(([hash]) =>
          limit(async () => {
            const info = await this.remote.head(blobKey(hash));
            if (info) this.known.set(hash, info.size);
          }),
        ),
      );
    } else {
      const shards = new Set(unknown.map(([hash]) => hash.slice(0, 2)));
      await Promise.all([...shards].map((s) => limit(() => this.listShard(s))));
    }
    return new Set([...blobs].filter(([hash, size]) => this.known.get(hash) === size).map(([hash]) => hash));
  }

  /** A blob this process has just uploaded. */
  uploaded(hash: string, size: number): void {
    this.known.set(hash, size);
  }

  private listShard(shard: string): Promise<void> {
    let pending = this.listedShards.get(shard);
    if (!pending) {
      pending = (async () => {
        for await (const o of this.remote.list(`${BLOBS}${shard}/`)) {
          const hash = hashOfKey(o.key, BLOBS);
          if (hash) this.known.set(hash, o.size);
        }
      })();
      this.listedShards.set(shard, pending);
    }
    return pending;
  }
}
