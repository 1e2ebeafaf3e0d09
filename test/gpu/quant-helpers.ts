// Helpers shared by the quantization-suite GPU tests (test/gpu/quant-*.test.ts, gptq-*.test.ts).
import { expect } from 'vitest';

type Words = Float32Array | Uint32Array | Uint8Array | Int8Array | Uint16Array;

/** The 32-bit patterns of a typed array (f32 values compared bit for bit: −0 ≠ 0, NaN payloads count). */
export const bitsOf = (a: Words): Uint32Array =>
  a instanceof Float32Array || a instanceof Uint32Array
    ? new Uint32Array(a.buffer, a.byteOffset, a.length)
    : Uint32Array.from(a);

/** Bit-identical arrays; on failure names the first differing index and both patterns. */
export function expectSameBits(got: Words | undefined, want: Words | undefined, what: string): void {
  if (want === undefined || got === undefined) {
    expect(got === undefined, `${what}: presence`).toBe(want === undefined);
    return;
  }
  const g = bitsOf(got);
  const w = bitsOf(want);
  expect(g.length, `${what}: length`).toBe(w.length);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < w.length; i++) {
    if (g[i] !== w[i]) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad) {
    const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
    const val = (a: Words, i: number) => (a instanceof Float32Array ? ` (${a[i]})` : '');
    expect.fail(
      `${what}: ${bad} of ${w.length} differ; first at ${first}: got ${hex(g[first])}${val(got, first)}, want ${hex(w[first])}${val(want, first)}`,
    );
  }
}

/** Random f32 bit patterns, biased to the interesting places: subnormals, ±0, ±∞, NaN, exact
 *  midpoints of coarser formats, and ordinary values of all magnitudes. */
export function randomBits(rand: () => number, n: number): Float32Array {
  const u = new Uint32Array(n);
  const r32 = () => Math.floor(rand() * 2 ** 32) >>> 0;
  for (let i = 0; i < n; i++) {
    const kind = Math.floor(rand() * 10);
    const sign = rand() < 0.5 ? 0x80000000 : 0;
    switch (kind) {
      case 0:
        u[i] = sign | (r32() & 0x7fffff);
        break; // subnormal (or ±0)
      case 1:
        u[i] =
          sign | [0, 0x7f800000, 0x7fc00000, 0x7f800001, 0x7f7fffff, 0x00800000, 0x7fffffff][Math.floor(rand() * 7)];
        break;
      case 2: {
        // a value with few significant bits followed by one 1 bit: a midpoint for many k
        const keep = Math.floor(rand() * 24);
        const e = Math.floor(rand() * 254) + 1;
        const frac = r32() & 0x7fffff & ~((1 << (23 - keep)) - 1);
        u[i] = (sign | (e << 23) | frac | (keep < 23 ? 1 << (22 - keep) : 0)) >>> 0;
        break;
      }
      case 3:
        u[i] = (sign | (((Math.floor(rand() * 40) + 100) << 23) | (r32() & 0x7fffff))) >>> 0;
        break; // around fp8 / fp16 ranges
      default:
        u[i] = r32();
        break; // anything
    }
  }
  return new Float32Array(u.buffer);
}
