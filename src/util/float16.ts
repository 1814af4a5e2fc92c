/**
 * IEEE 754 half precision for compact feature shards (Node 20 has no Float16Array): conversion with
 * round-to-nearest-even, and a 64K-entry table for fast decoding. Pooled CNN features lose nothing
 * that matters at float16 (about 3 significant digits, range ±65504).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One float to half-precision bits. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    // Subnormal: shift the implicit leading 1 in, round to nearest even.
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  mant >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && mant & 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mant;
}

let table: Float32Array | undefined;

function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) table[h] = sign * m * 2 ** -24;
    else if (e === 0x1f) table[h] = m ? NaN : sign * Infinity;
    else table[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return table;
}

/** Encode floats to half-precision bits. */
export function encodeHalf(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = toHalf(src[i]!);
  return dst;
}

/** Decode `count` halves from `src` (starting at `from`) into `dst` at `at`. */
export function decodeHalf(
  src: Uint16Array,
  dst: Float32Array,
  from = 0,
  count = src.length - from,
  at = 0,
): Float32Array {
  const t = halfTable();
  for (let i = 0; i < count; i++) dst[at + i] = t[src[from + i]!]!;
  return dst;
}
