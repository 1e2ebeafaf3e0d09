// ggml block codecs against the formulas of docs/formats.md, on hand-built vectors: Q8_0 and Q4_0
// encoders byte for byte (roundf halves away from zero, the x/d + 8.5 truncation, all-zero and
// negative-max blocks, nibble order), and every decoder (F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)
// against an independent per-value formulation written here.
import { describe, expect, it } from 'vitest';
import { f16Array, f16FromF32Bits } from '../../src/core/formats/export/f16.ts';
import { dequantize, encodeQ4_0, encodeQ8_0 } from '../../src/core/formats/gguf/blocks.ts';
import { GgmlType } from '../../src/core/formats/gguf/types.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../src/core/quant/float-formats.ts';
import { seededRandom } from './helpers.ts';

const f32 = Math.fround;
const block = (vals: number[]) => Float32Array.from({ length: 32 }, (_, i) => vals[i] ?? 0);
const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
/** C roundf, written independently of src/core/quant/rounding.ts. */
const cRoundf = (v: number) => Math.sign(v) * Math.floor(Math.abs(v) + 0.5) + 0; // + 0: no −0

describe('Q8_0 encoder (d = amax / 127, q = roundf(x / d))', () => {
  it('rounds halves away from zero', () => {
    // amax 127 → d = 1 exactly: x / d = x, so the codes show roundf itself.
    const x = block([127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49, -0.51, 126.5, -127]);
    const b = encodeQ8_0(x);
    expect(b.length).toBe(34);
    expect(u16(b, 0)).toBe(0x3c00); // f16 1.0
    const q = Array.from(new Int8Array(b.buffer, 2, 32));
    expect(q.slice(0, 11)).toEqual([127, 1, -1, 2, -2, 3, -3, 0, -1, 127, -127]);
    expect(q.slice(11).every((v) => v === 0)).toBe(true);
  });

  it('stores d as f16 but quantizes with the f32 d; all-zero blocks are d = 0, q = 0', () => {
    const x = new Float32Array(64);
    for (let j = 0; j < 32; j++) x[j] = (j - 16) * 0.1;
    const b = encodeQ8_0(x); // second block all zeros
    const d = f32(1.6 / 127);
    expect(u16(b, 0)).toBe(f32ToF16Bits(d));
    for (let j = 0; j < 32; j++) expect(new Int8Array(b.buffer, 2, 32)[j]).toBe(cRoundf(f32(x[j] / d)));
    expect(Array.from(b.subarray(34))).toEqual(new Array(34).fill(0));
    expect(Array.from(dequantize(GgmlType.Q8_0, b, 64).subarray(32))).toEqual(new Array(32).fill(0));
  });

  it('matches the formula on random blocks, and decodes to q · f16(d)', () => {
    const rnd = seededRandom(8);
    const x = Float32Array.from({ length: 32 * 50 }, () => (rnd() - 0.5) * 4 * rnd());
    const b = encodeQ8_0(x);
    const y = dequantize(GgmlType.Q8_0, b, x.length);
    for (let blk = 0; blk < 50; blk++) {
      const xs = x.subarray(blk * 32, blk * 32 + 32);
      const d = f32(xs.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127);
      const dh = f16BitsToF32(f32ToF16Bits(d));
      expect(u16(b, blk * 34)).toBe(f32ToF16Bits(d));
      for (let j = 0; j < 32; j++) {
        const q = cRoundf(f32(xs[j] / d));
        expect(new Int8Array(b.buffer, blk * 34 + 2, 32)[j]).toBe(q);
        expect(y[blk * 32 + j]).toBe(f32(q * dh));
      }
    }
  });
});

describe('Q4_0 encoder (d = max / −8, q = min(15, trunc(x / d + 8.5)))', () => {
  const codes = (b: Uint8Array, o = 0) => {
    const q = new Array(32);
    for (let j = 0; j < 16; j++) {
      q[j] = b[o + 2 + j] & 15;
      q[j + 16] = b[o + 2 + j] >> 4;
    }
    return q;
  };

  it('negative max: d = 1, the +8.5 truncation at its edges', () => {
    // max (largest magnitude, signed) = −8 → d = −8 / −8 = 1; x / d + 8.5 = x + 8.5.
    const x = block([-8, 7, 7.5, -0.5, -0.51, 0.49, 0.5, -7.5, 3.2, -3.7]);
    const b = encodeQ4_0(x);
    expect(u16(b, 0)).toBe(0x3c00);
    // trunc(0.5)=0, trunc(15.5)=15, min(15, 16)=15, trunc(8)=8, trunc(7.99)=7, trunc(8.99)=8,
    // trunc(9)=9, trunc(1)=1, trunc(11.7)=11, trunc(4.8)=4; zeros → trunc(8.5) = 8
    expect(codes(b).slice(0, 10)).toEqual([0, 15, 15, 8, 7, 8, 9, 1, 11, 4]);
    expect(codes(b).slice(10)).toEqual(new Array(22).fill(8));
  });

  it('positive max: d < 0 and the max itself lands on code 0; the first of equal magnitudes wins', () => {
    const b = encodeQ4_0(block([3, -3, 1.5]));
    const d = f32(3 / -8); // max = +3 (first of ±3)
    expect(u16(b, 0)).toBe(f32ToF16Bits(d));
    expect(codes(b).slice(0, 3)).toEqual([0, 15, Math.min(15, Math.trunc(f32(f32(1.5 / d) + 8.5)))]);
    const b2 = encodeQ4_0(block([-3, 3]));
    expect(u16(b2, 0)).toBe(f32ToF16Bits(f32(-3 / -8))); // max = −3 → d > 0
    expect(codes(b2).slice(0, 2)).toEqual([0, 15]);
  });

  it('all-zero block: d = −0 (f16 0x8000, as ggml writes it), every code 8', () => {
    const b = encodeQ4_0(new Float32Array(32));
    expect(u16(b, 0)).toBe(0x8000);
    expect(Array.from(b.subarray(2))).toEqual(new Array(16).fill(0x88));
    expect(Array.from(dequantize(GgmlType.Q4_0, b, 32)).every((v) => v === 0)).toBe(true);
  });

  it('nibble order: qs[j] = q[j] | q[j + 16] << 4; decode x = (q − 8) · f16(d)', () => {
    // d = 1: x = q − 8 for q = 0..15 in the first half, 15..0 in the second.
    const x = block([...Array.from({ length: 16 }, (_, j) => j - 8), ...Array.from({ length: 16 }, (_, j) => 7 - j)]);
    const b = encodeQ4_0(x);
    for (let j = 0; j < 16; j++) expect(b[2 + j]).toBe(j | ((15 - j) << 4));
    expect(Array.from(dequantize(GgmlType.Q4_0, b, 32))).toEqual(Array.from(x));
  });

  it('matches the formula on random blocks', () => {
    const rnd = seededRandom(4);
    const x = Float32Array.from({ length: 32 * 40 }, () => (rnd() - 0.5) * rnd());
    const b = encodeQ4_0(x);
    for (let blk = 0; blk < 40; blk++) {
      const xs = x.subarray(blk * 32, blk * 32 + 32);
      let max = 0;
      for (const v of xs) if (Math.abs(v) > Math.abs(max)) max = v;
      const d = f32(max / -8);
      expect(u16(b, blk * 18)).toBe(f32ToF16Bits(d));
      expect(codes(b, blk * 18)).toEqual(Array.from(xs, (v) => Math.min(15, Math.trunc(f32(f32(v / d) + 8.5)))));
    }
  });

  it('rejects partial blocks and non-finite values with typed errors', () => {
    expect(() => encodeQ8_0(new Float32Array(31))).toThrow(/whole blocks of 32/);
    expect(() => encodeQ4_0(block([NaN]))).toThrow(/non-finite/);
  });
});

describe('decoders vs an independent per-value formulation', () => {
  const rnd = seededRandom(21);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  /** A random f16 that is finite and modest (exponent field 8..20). */
  const smallF16 = () => (rnd() < 0.5 ? 0x8000 : 0) | ((8 + Math.floor(rnd() * 12)) << 10) | Math.floor(rnd() * 1024);
  const setU16 = (b: Uint8Array, o: number, v: number) => {
    b[o] = v & 255;
    b[o + 1] = v >> 8;
  };
  const h = (b: Uint8Array, o: number) => f16BitsToF32(u16(b, o));

  it('F16 and BF16', () => {
    const b = bytes(64);
    for (let i = 0; i < 32; i++) setU16(b, 2 * i, smallF16());
    expect(Array.from(dequantize(GgmlType.F16, b, 32))).toEqual(Array.from({ length: 32 }, (_, i) => h(b, 2 * i)));
    const bf = dequantize(GgmlType.BF16, b, 32);
    for (let i = 0; i < 32; i++) expect(bf[i]).toBe(new Float32Array(new Uint32Array([u16(b, 2 * i) << 16]).buffer)[0]);
  });

  it('Q4_1: x = q · d + m', () => {
    const b = bytes(40);
    for (const o of [0, 20]) {
      setU16(b, o, smallF16());
      setU16(b, o + 2, smallF16());
    }
    const y = dequantize(GgmlType.Q4_1, b, 64);
    for (let e = 0; e < 64; e++) {
      const o = (e >> 5) * 20;
      const j = e & 31;
      const q = j < 16 ? b[o + 4 + j] & 15 : b[o + 4 + j - 16] >> 4;
      expect(y[e]).toBe(f32(f32(q * h(b, o)) + h(b, o + 2)));
    }
  });

  it('Q4_K: 8 sub-blocks with 6-bit (sc, m), x = d·sc·q − dmin·m', () => {
    const b = bytes(144);
    setU16(b, 0, smallF16());
    setU16(b, 2, smallF16());
    const s = b.subarray(4, 16);
    const scMin = (j: number) =>
      j < 4
        ? [s[j] & 63, s[j + 4] & 63]
        : [(s[j + 4] & 15) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4)];
    const y = dequantize(GgmlType.Q4_K, b, 256);
    for (let e = 0; e < 256; e++) {
      const chunk = e >> 6;
      const hi = (e & 63) >= 32;
      const byte = b[16 + 32 * chunk + (e & 31)];
      const q = hi ? byte >> 4 : byte & 15;
      const [sc, m] = scMin(2 * chunk + (hi ? 1 : 0));
      expect(y[e]).toBe(f32(f32(f32(h(b, 0) * sc) * q) - f32(h(b, 2) * m)));
    }
  });

  it('Q6_K: ql low/high nibbles, 2-bit qh planes, 16 int8 scales, d last', () => {
    const b = bytes(210);
    setU16(b, 208, smallF16());
    const y = dequantize(GgmlType.Q6_K, b, 256);
    for (let e = 0; e < 256; e++) {
      const half = e >> 7;
      const k = (e & 127) >> 5; // which of the four 32-value quarters of this half
      const l = e & 31;
      const qlByte = b[64 * half + l + 32 * (k & 1)];
      const low = k >= 2 ? qlByte >> 4 : qlByte & 15;
      const high = (b[128 + 32 * half + l] >> (2 * k)) & 3;
      const sc = (b[192 + 8 * half + (l >> 4) + 2 * k] << 24) >> 24; // int8
      expect(y[e]).toBe(f32(f32(h(b, 208) * sc) * ((low | (high << 4)) - 32)));
    }
  });

  it('rejects a byte count that does not match the value count', () => {
    expect(() => dequantize(GgmlType.Q8_0, new Uint8Array(33), 32)).toThrow(/33 bytes for 32 values/);
  });
});

describe('bulk f32 → f16 (writers)', () => {
  it('equals the generic encoder on every f16 boundary and random bit patterns', () => {
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    const bad: string[] = [];
    const check = (bits: number) => {
      u[0] = bits >>> 0;
      const want = Number.isNaN(f[0]) ? 0x7e00 : f32ToF16Bits(f[0]);
      if (f16FromF32Bits(u[0]) !== want) bad.push(u[0].toString(16));
    };
    for (let hb = 0; hb < 0x10000; hb++) {
      f[0] = f16BitsToF32(hb);
      const base = u[0];
      // the f16 value itself, its f32 neighbours, and the exact midpoint to the next f16 (± 1 ulp)
      for (const d of [-1, 0, 1, 0x1000, 0xfff, 0x1001]) check(base + d);
    }
    const rnd = seededRandom(16);
    for (let i = 0; i < 100_000; i++) check(Math.floor(rnd() * 2 ** 32));
    expect(bad).toEqual([]);
    expect(Array.from(f16Array(Float32Array.of(1, -2, 65504, 1e6, 2 ** -25, 2 ** -24)))).toEqual([
      0x3c00, 0xc000, 0x7bff, 0x7c00, 0, 1,
    ]);
  });
});
