// Float formats against an independent reference: decode every code with the textbook formula
// written here, then round by searching the nearest decoded value (ties → even code), exactly in
// f64. No code path of float-formats.ts is used to build the expectations.
import { describe, expect, it } from 'vitest';
import {
  FLOAT_SPECS,
  decodeArray,
  decodeFloat,
  encodeArray,
  encodeFloat,
  f16BitsToF32,
  f32ToF16Bits,
  roundArrayToFloat,
  roundFraction,
  truncateFraction,
  type FloatFormat,
  type Overflow,
} from '../../src/core/quant/float-formats.ts';
import { seededRandom } from './helpers.ts';

const u32 = new Uint32Array(1);
const fl = new Float32Array(u32.buffer);
const bitsToF32 = (b: number): number => {
  u32[0] = b >>> 0;
  return fl[0];
};
const f32ToBits = (x: number): number => {
  fl[0] = x;
  return u32[0];
};
const nextUp = (x: number): number => bitsToF32(f32ToBits(x) + 1); // x > 0
const nextDown = (x: number): number => bitsToF32(f32ToBits(x) - 1); // x > 0

interface Layout {
  e: number;
  m: number;
  fn: boolean;
  nan: number;
}
const LAYOUTS: Record<FloatFormat, Layout> = {
  fp16: { e: 5, m: 10, fn: false, nan: 0x7e00 },
  bf16: { e: 8, m: 7, fn: false, nan: 0x7fc0 },
  tf32: { e: 8, m: 10, fn: false, nan: 0x3fe00 },
  fp8e4m3: { e: 4, m: 3, fn: true, nan: 0x7f },
  fp8e5m2: { e: 5, m: 2, fn: false, nan: 0x7f },
};

/** Textbook decode: (−1)^s · 2^(E − bias) · (1 + M/2^m), subnormal 2^(1 − bias) · M/2^m. */
function refDecode(code: number, L: Layout): number {
  const bias = 2 ** (L.e - 1) - 1;
  const s = Math.floor(code / 2 ** (L.e + L.m)) % 2 ? -1 : 1;
  const E = Math.floor(code / 2 ** L.m) % 2 ** L.e;
  const M = code % 2 ** L.m;
  if (!L.fn && E === 2 ** L.e - 1) return M === 0 ? s * Infinity : NaN;
  if (L.fn && E === 2 ** L.e - 1 && M === 2 ** L.m - 1) return NaN;
  return E === 0 ? s * 2 ** (1 - bias) * (M / 2 ** L.m) : s * 2 ** (E - bias) * (1 + M / 2 ** L.m);
}

/** Positive finite values with their codes (ascending), plus the first value past the max. */
function positiveTable(L: Layout): { v: Float64Array; code: Int32Array; maxCode: number } {
  const v: number[] = [];
  const code: number[] = [];
  for (let c = 0; c < 2 ** (L.e + L.m); c++) {
    const x = refDecode(c, L);
    if (Number.isFinite(x)) {
      v.push(x);
      code.push(c);
    }
  }
  const maxCode = code[code.length - 1];
  const last = v[v.length - 1];
  v.push(last + (last - v[v.length - 2])); // beyond max: next value of the same binade
  code.push(maxCode + 1);
  return { v: Float64Array.from(v), code: Int32Array.from(code), maxCode };
}

/** Reference encoder: nearest positive value, ties to the even code; overflow per mode. */
function refEncode(x: number, L: Layout, T: ReturnType<typeof positiveTable>, mode: Overflow): number {
  const signBit = 2 ** (L.e + L.m);
  if (Number.isNaN(x)) return L.nan;
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
  const a = Math.abs(x);
  const overflow = (): number =>
    mode === 'saturate' ? sign + T.maxCode : L.fn ? sign + L.nan : sign + (2 ** L.e - 1) * 2 ** L.m;
  if (a >= T.v[T.v.length - 1]) return overflow();
  let lo = 0;
  let hi = T.v.length - 1; // T.v[lo] ≤ a < T.v[hi]
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (T.v[mid] <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - T.v[lo];
  const dh = T.v[hi] - a;
  const pick = dl < dh ? lo : dh < dl ? hi : T.code[lo] % 2 === 0 ? lo : hi;
  if (pick === T.v.length - 1) return overflow();
  return sign + T.code[pick];
}

/** Inputs that exercise every rounding boundary: each value, each midpoint, ±1 f32 ulp around it. */
function boundaryInputs(
  T: ReturnType<typeof positiveTable>,
  rand: () => number,
  nRandom: number,
  stride: number,
): number[] {
  const xs: number[] = [0, -0, Infinity, -Infinity, NaN, 3.4028234663852886e38, 1.401298464324817e-45];
  for (let i = 0; i + 1 < T.v.length; i += i + 1 + stride < T.v.length ? stride : 1) {
    // stride, then the top
    const mid = Math.fround((T.v[i] + T.v[i + 1]) / 2); // exact for these formats
    for (const x of [Math.fround(T.v[i]), mid, nextUp(mid), mid > 0 ? nextDown(mid) : 0]) xs.push(x, -x);
  }
  for (let i = 0; i < nRandom; i++) xs.push(bitsToF32(Math.floor(rand() * 2 ** 32)));
  return xs;
}

const sameCode = (got: number, want: number, x: number): void => {
  if (got !== want)
    expect({ x, got: got.toString(16), want: want.toString(16) }).toEqual({
      x,
      got: want.toString(16),
      want: want.toString(16),
    });
};

describe('float formats: decode', () => {
  for (const f of Object.keys(LAYOUTS) as FloatFormat[]) {
    it(`${f}: decodeFloat matches the textbook formula on every code`, () => {
      const L = LAYOUTS[f];
      const n = 2 ** (1 + L.e + L.m);
      for (let c = 0; c < n; c++) {
        const got = decodeFloat(c, FLOAT_SPECS[f]);
        const want = refDecode(c, L);
        if (!Object.is(got, want)) expect([c, got]).toEqual([c, want]);
      }
    });
  }
  it('max finite values', () => {
    expect(FLOAT_SPECS.fp16.maxFinite).toBe(65504);
    expect(FLOAT_SPECS.fp8e4m3.maxFinite).toBe(448);
    expect(FLOAT_SPECS.fp8e5m2.maxFinite).toBe(57344);
    expect(FLOAT_SPECS.bf16.maxFinite).toBe(bitsToF32(0x7f7f0000));
    expect(FLOAT_SPECS.tf32.maxFinite).toBe(bitsToF32(0x7f7fe000));
  });
});

describe('float formats: encode vs nearest-value reference', () => {
  // [format, random inputs, boundary stride (1 = around every value), overflow modes]
  const cases: [FloatFormat, number, number, Overflow[]][] = [
    ['fp16', 200_000, 1, ['ieee', 'saturate']],
    ['fp8e4m3', 50_000, 1, ['ieee', 'saturate']],
    ['fp8e5m2', 50_000, 1, ['ieee', 'saturate']],
    ['bf16', 100_000, 1, ['ieee', 'saturate']],
    ['tf32', 100_000, 17, ['ieee']],
  ];
  for (const [f, nRandom, stride, modes] of cases) {
    for (const mode of modes) {
      it(`${f} (${mode}): every code round-trips; boundaries (stride ${stride}) and ${nRandom} random f32 round to nearest even`, () => {
        const L = LAYOUTS[f];
        const S = FLOAT_SPECS[f];
        const T = positiveTable(L);
        for (let c = 0; c < 2 ** (1 + L.e + L.m); c++) {
          const x = refDecode(c, L);
          if (Number.isNaN(x)) continue;
          if (!Number.isFinite(x) && mode === 'saturate') continue; // ∞ saturates, checked below
          sameCode(encodeFloat(x, S, mode), c, x);
        }
        for (const x of boundaryInputs(T, seededRandom(7), nRandom, stride))
          sameCode(encodeFloat(x, S, mode), refEncode(x, L, T, mode), x);
      });
    }
  }
});

describe('float formats: known values and overflow rules', () => {
  it('fp16 known bit patterns', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(Math.fround(0.1))).toBe(0x2e66);
    expect(f32ToF16Bits(Math.fround(1 / 3))).toBe(0x3555);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519.996)).toBe(0x7bff); // below max + half ulp
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie with odd max → ∞
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(f32ToF16Bits(nextUp(2 ** -25))).toBe(0x0001);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 → 2
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToF16Bits(NaN)).toBe(0x7e00);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0400)).toBe(2 ** -14);
  });

  it('all 65536 fp16 patterns: f16 → f32 → f16 is the identity (NaNs stay NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const x = f16BitsToF32(h);
      const back = f32ToF16Bits(Math.fround(x));
      if (Number.isNaN(x)) expect(Number.isNaN(f16BitsToF32(back))).toBe(true);
      else if (back !== h) expect(back).toBe(h);
    }
  });

  it('fp8 E4M3 follows PyTorch float8_e4m3fn in ieee mode and saturates by default', () => {
    const S = FLOAT_SPECS.fp8e4m3;
    expect(encodeFloat(1, S)).toBe(0x38);
    expect(encodeFloat(2 ** -9, S)).toBe(0x01); // smallest subnormal
    expect(encodeFloat(2 ** -10, S)).toBe(0x00); // tie → even
    expect(encodeFloat(-448, S)).toBe(0xfe);
    expect(encodeFloat(464, S, 'ieee')).toBe(0x7e); // tie → even 448
    expect(encodeFloat(nextUp(464), S, 'ieee')).toBe(0x7f); // NaN
    expect(encodeFloat(480, S, 'ieee')).toBe(0x7f);
    expect(encodeFloat(Infinity, S, 'ieee')).toBe(0x7f);
    expect(encodeFloat(-Infinity, S, 'ieee')).toBe(0xff);
    expect(encodeFloat(1e6, S)).toBe(0x7e); // default: saturate
    expect(encodeFloat(-Infinity, S)).toBe(0xfe);
    expect(encodeFloat(NaN, S)).toBe(0x7f);
  });

  it('fp8 E5M2 follows PyTorch float8_e5m2 in ieee mode and saturates by default', () => {
    const S = FLOAT_SPECS.fp8e5m2;
    expect(encodeFloat(1, S)).toBe(0x3c);
    expect(encodeFloat(57344, S)).toBe(0x7b);
    expect(encodeFloat(nextDown(61440), S, 'ieee')).toBe(0x7b);
    expect(encodeFloat(61440, S, 'ieee')).toBe(0x7c); // tie with odd max → ∞
    expect(encodeFloat(-Infinity, S, 'ieee')).toBe(0xfc);
    expect(encodeFloat(61440, S)).toBe(0x7b);
    expect(encodeFloat(Infinity, S)).toBe(0x7b);
    expect(encodeFloat(NaN, S)).toBe(0x7f);
    expect(encodeFloat(2 ** -16, S)).toBe(0x01);
  });

  it('array encode/decode/round agree with the scalar functions', () => {
    const rand = seededRandom(3);
    const x = Float32Array.from({ length: 999 }, () => (rand() - 0.5) * 2 ** Math.floor(rand() * 40 - 20));
    for (const f of Object.keys(LAYOUTS) as FloatFormat[]) {
      const codes = encodeArray(x, f);
      expect(codes.BYTES_PER_ELEMENT).toBe(f.startsWith('fp8') ? 1 : f === 'tf32' ? 4 : 2);
      const back = decodeArray(codes, f);
      expect(roundArrayToFloat(x, f)).toEqual(back);
      for (let i = 0; i < x.length; i += 97) expect(codes[i]).toBe(encodeFloat(x[i], FLOAT_SPECS[f]));
    }
  });
});

describe('fp32 fraction-bit truncation and rounding', () => {
  const rand = seededRandom(11);
  const randomBits = Uint32Array.from({ length: 20_000 }, () => Math.floor(rand() * 2 ** 32));
  const x = new Float32Array(randomBits.buffer.slice(0));

  it('truncate is exactly an AND mask on finite and infinite values, for every k', () => {
    for (let k = 0; k <= 23; k++) {
      const out = new Uint32Array(truncateFraction(x, k).buffer);
      const mask = k === 23 ? 0xffffffff : ~((1 << (23 - k)) - 1) >>> 0;
      for (let i = 0; i < randomBits.length; i++) {
        const b = randomBits[i];
        const isNan = (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;
        const want = isNan ? ((b & 0x80000000) | 0x7fc00000) >>> 0 : (b & mask) >>> 0;
        if (out[i] !== want)
          expect([k, b.toString(16), out[i].toString(16)]).toEqual([k, b.toString(16), want.toString(16)]);
      }
    }
  });

  it('truncate keeps ∞, keeps NaN a NaN at k = 0, and leaves the exponent alone', () => {
    const specials = new Float32Array(
      new Uint32Array([0x7f800000, 0xff800000, 0x7f800001, 0xffc00001, 0x3fffffff]).buffer,
    );
    const t = truncateFraction(specials, 0);
    expect([t[0], t[1]]).toEqual([Infinity, -Infinity]);
    expect(Number.isNaN(t[2]) && Number.isNaN(t[3])).toBe(true);
    expect(new Uint32Array(t.buffer)[3]).toBe(0xffc00000);
    expect(t[4]).toBe(1); // 1.9999999 truncates to 1
  });

  it('round to nearest even: carries into the exponent and to ∞, ties to the even kept bit', () => {
    const vals = new Float32Array(
      new Uint32Array([
        0x3fffffff, // 1.9999999
        0x3fc00000, // 1.5: tie
        0x3f900000, // 1.125: tie at k = 2 → 1.0 (kept lsb 0)
        0x3fb00000, // 1.375: tie at k = 2 → 1.5 (kept lsb 1 → up)
        0x7f7fffff, // max f32
        0x00000003, // subnormal 3·2^-149
        0x807fffff, // −largest subnormal
      ]).buffer,
    );
    expect(Array.from(roundFraction(vals, 0).slice(0, 2))).toEqual([2, 2]);
    const r2 = roundFraction(vals, 2);
    expect([r2[2], r2[3]]).toEqual([1, 1.5]);
    expect(roundFraction(vals, 0)[4]).toBe(Infinity);
    expect(roundFraction(vals, 22)[5]).toBe(bitsToF32(0x00000004)); // tie, lsb 1 → up
    expect(roundFraction(vals, 0)[6]).toBe(-(2 ** -126)); // carries into the smallest normal
    expect(roundFraction(vals, 23)).toEqual(vals);
  });

  it('round agrees with an independent nearest-of-two-candidates reference for every k', () => {
    for (let k = 0; k <= 23; k++) {
      const out = new Uint32Array(roundFraction(x, k).buffer);
      const ulp = 2 ** (23 - k);
      for (let i = 0; i < randomBits.length; i++) {
        const b = randomBits[i];
        if ((b & 0x7f800000) === 0x7f800000) continue; // ∞/NaN covered above
        const sign = b & 0x80000000;
        const mag = b & 0x7fffffff; // magnitude bits are monotonic in the value
        const lo = Math.floor(mag / ulp) * ulp;
        const rem = mag - lo;
        const up = rem > ulp / 2 || (rem === ulp / 2 && Math.floor(lo / ulp) % 2 === 1);
        const want = ((sign | 0) + (up ? lo + ulp : lo)) >>> 0;
        if (out[i] !== want)
          expect([k, b.toString(16), out[i].toString(16)]).toEqual([k, b.toString(16), want.toString(16)]);
      }
    }
  });

  it('k = 7 and k = 10 equal bf16 and tf32 rounding', () => {
    const finite = x.filter((v) => Number.isFinite(v));
    expect(roundFraction(finite, 7)).toEqual(roundArrayToFloat(finite, 'bf16'));
    expect(roundFraction(finite, 10)).toEqual(roundArrayToFloat(finite, 'tf32'));
  });

  it('rejects k outside 0..23', () => {
    expect(() => truncateFraction(x, 24)).toThrow(/0\.\.23/);
    expect(() => roundFraction(x, -1)).toThrow(/0\.\.23/);
  });
});
