/**
 * The record a remote keeps per stage key: the output record of the local index (tree hash,
 * content hash, metrics, ingredients) plus who pushed it. It is written after everything it names,
 * and a reader trusts it only after checking it: the right format, hashes that look like hashes,
 * and ingredients that hash to the key it is stored under (so a record cannot be moved, edited or
 * cut short without being noticed).
 */
import { isTreeHash } from '../cache/content-store.js';
import { canonicalJson } from '../run/canonical-json.js';
import type { Ingredients } from '../cache/key-ingredients.js';
import { stageKey as keyOf } from '../run/stage-key.js';
import { err, ok, type Result } from '../result.js';
import type { OutputRecord } from './local-cache.js';

export const RECORD_FORMAT = 'tailor-record-v1';

/** The local output record (where it was made), with its content hash always set, plus the push. */
export interface RemoteRecord extends Omit<OutputRecord, 'contentHash'> {
  /** The output without its metrics.json: what downstream keys are made of. */
  contentHash: string;
  files: number;
  bytes: number;
  pushedAt: number;
  pushedFrom: string;
}

export function serializeRecord(r: RemoteRecord): Buffer {
  return Buffer.from(canonicalJson({ format: RECORD_FORMAT, ...r }));
}

/** Parse and check a record fetched for `stageKey`; any doubt is an error (a cache miss). */
export function parseRecord(data: Buffer, stageKey: string): Result<RemoteRecord, string> {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
  } catch {
    return err('record is not valid JSON (truncated or corrupt)');
  }
  if (raw === null || typeof raw !== 'object' || raw.format !== RECORD_FORMAT)
    return err(`record is not a ${RECORD_FORMAT} record`);
  const str = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
  const num = (k: string) => (typeof raw[k] === 'number' && Number.isFinite(raw[k]) ? (raw[k] as number) : undefined);
  const treeHash = str('treeHash');
  const contentHash = str('contentHash');
  if (raw.stageKey !== stageKey) return err('record is stored under another key');
  if (!treeHash || !isTreeHash(treeHash) || !contentHash || !isTreeHash(contentHash))
    return err('record has no valid tree or content hash');
  if (typeof raw.metrics !== 'object' || raw.metrics === null || Array.isArray(raw.metrics))
    return err('record has no metrics object');
  if (raw.ingredients === undefined || keyOf(raw.ingredients as Ingredients) !== stageKey)
    return err('record ingredients do not hash to its key');
  const fields = ['createdAt', 'seconds', 'files', 'bytes', 'pushedAt'].map(num);
  if (fields.some((v) => v === undefined)) return err('record lacks a number field');
  const [createdAt, seconds, files, bytes, pushedAt] = fields as number[];
  return ok({
    stageKey,
    treeHash,
    contentHash,
    pipeline: str('pipeline') ?? '',
    stage: str('stage') ?? '',
    ingredients: raw.ingredients as Ingredients,
    metrics: raw.metrics as Record<string, unknown>,
    createdAt: createdAt!,
    seconds: seconds!,
    files: files!,
    bytes: bytes!,
    pushedAt: pushedAt!,
    pushedFrom: str('pushedFrom') ?? '',
  });
}
