/**
 * The content hash of the store: one algorithm for file hashes, Merkle folder manifests,
 * object names and stage keys.
 *
 * Chosen by measurement (`bench/engine-hash.ts`, results in `bench/results/engine-hash.md`):
 * BLAKE3 from hash-wasm runs at ≈ 380 MB/s here, more than 2x slower than xxh3-128 (≈ 3 GB/s),
 * so the "prefer BLAKE3" rule does not hold; xxh3 is not collision-resistant, which a content
 * address must be; Node's native SHA-256 uses the CPU's SHA extensions (≈ 1 GB/s, 2.7x BLAKE3)
 * and is collision-resistant. So the store uses SHA-256. Changing it changes every key and
 * object name, so it is a constant, not a per-machine choice.
 */
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Name of the content hash (recorded beside keys so a future change is detectable). */
export const HASH_ALGO = 'sha256';

/** Length of a hex digest of HASH_ALGO. */
export const HASH_HEX_LENGTH = 64;

/** Files up to this size are read in one call; larger ones are streamed in chunks of this size. */
export const SMALL_FILE_BYTES = 1 << 20;

/**
 * Prepare the hash implementation. SHA-256 is native, so this resolves at once; it stays in the
 * API (idempotent) so callers do not change if a wasm hash is ever chosen.
 */
export async function initHash(): Promise<void> {
  // Native node:crypto needs no initialisation.
}

/** Hex digest of bytes or of a string's UTF-8 encoding. */
export function hashBytes(data: Uint8Array | string): string {
  return createHash(HASH_ALGO).update(data).digest('hex');
}

/** An incremental hash: feed chunks, then take the hex digest once. */
export interface HashStream {
  update(chunk: Uint8Array | string): HashStream;
  digest(): string;
}

/** A fresh incremental hash (independent state, safe to interleave with others). */
export function createHashStream(): HashStream {
  const h: Hash = createHash(HASH_ALGO);
  const stream: HashStream = {
    update(chunk) {
      h.update(chunk);
      return stream;
    },
    digest: () => h.digest('hex'),
  };
  return stream;
}

/**
 * Hash a file's bytes with bounded memory: one read for small files, otherwise chunks of
 * SMALL_FILE_BYTES through one reused buffer. Rejects with the fs error (ENOENT, EISDIR, ...).
 */
export async function hashFile(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.allocUnsafe(Math.min(Math.max(size, 1), SMALL_FILE_BYTES));
    const h = createHash(HASH_ALGO);
    // Read until EOF rather than trusting `size`: the file may grow or shrink while read.
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}
