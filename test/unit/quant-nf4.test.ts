// NF4 / FP4 (bitsandbytes) and double quantization: tables from their defining formulas,
// thresholds on exact midpoints, nearest-code property on random data.
import { describe, expect, it } from 'vitest';
import {
  DYNAMIC_MAP,
  FP4_CODE,
  NF4_CODE,
  NF4_THRESHOLDS,
  dequantize4bit,
  doubleDequantize,
  doubleQuantize,
  quantize4bit,
  quantizeDynamic,
  quantizeFP4Value,
  quantizeNF4Value,
} from '../../src/core/quant/nf4.ts';
import { seededRandom } from './helpers.ts';

const u32 = new Uint32Array(1);
const fl = new Float32Array(u32.buffer);
/** Next f32 above x. */
const nextUp = (x: number): number => {
  fl[0] = x;
  if (x === 0) return 2 ** -149;
  u32[0] += x > 0 ? 1 : -1;
  return fl[0];
};

describe('code tables', () => {
  it('NF4 is the table in docs/quantization.md', () => {
    const doc = [
      -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
      -0.09105003625154495, 0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
      0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1,
    ];
    expect(Array.from(NF4_CODE)).toEqual(doc.map(Math.fround));
  });

  it('FP4 is bnb e2m1 (bias 3, subnormal 0.0625) divided by its max 12', () => {
    for (let code = 0; code < 16; code++) {
      const sign = code & 8 ? -1 : 1;
      const e = (code >> 1) & 3;
      const p = code & 1;
      // bnb test_4bit_quant: exp 0 → 0 or 0.0625; else 2^(−exp + bias + 1) · (1.5 if p else 1)
      const v = e === 0 ? (p ? 0.0625 : 0) : 2 ** (-e + 3 + 1) * (p ? 1.5 : 1);
      expect(FP4_CODE[code]).toBeCloseTo((sign * v) / 12, 7);
    }
  });

  it('NF4 thresholds are the midpoints of adjacent codes', () => {
    for (let i = 0; i < 15; i++) expect(NF4_THRESHOLDS[i]).toBeCloseTo((NF4_CODE[i] + NF4_CODE[i + 1]) / 2, 6);
  });
});

describe('nearest code by midpoints', () => {
  it('NF4: a value exactly on a midpoint takes the lower code, the next f32 above takes the upper', () => {
    for (let i = 0; i < 15; i++) {
      expect(quantizeNF4Value(NF4_THRESHOLDS[i])).toBe(i);
      expect(quantizeNF4Value(nextUp(NF4_THRESHOLDS[i]))).toBe(i + 1);
    }
    expect([-1, 0, 1].map(quantizeNF4Value)).toEqual([0, 7, 15]);
  });

  it('FP4: same on the magnitude midpoints, sign bit from x < 0', () => {
    const mags = [0, 1, 6, 7, 4, 5, 2, 3]; // codes in increasing magnitude
    for (let i = 0; i < 7; i++) {
      const mid = Math.fround((FP4_CODE[mags[i]] + FP4_CODE[mags[i + 1]]) / 2);
      const t = [0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333].map(Math.fround)[i];
      expect(Math.abs(t - mid)).toBeLessThan(1e-6);
      expect(quantizeFP4Value(t)).toBe(mags[i]);
      expect(quantizeFP4Value(nextUp(t))).toBe(mags[i + 1]);
      expect(quantizeFP4Value(-nextUp(t))).toBe(8 + mags[i + 1]);
    }
    expect([quantizeFP4Value(-0), quantizeFP4Value(1), quantizeFP4Value(-1)]).toEqual([0, 3, 11]);
  });

  it('random values pick the nearest table entry (away from ±1e-6 of a midpoint)', () => {
    const rand = seededRandom(41);
    for (const [table, quant] of [
      [NF4_CODE, quantizeNF4Value],
      [FP4_CODE, quantizeFP4Value],
    ] as const) {
      for (let n = 0; n < 20_000; n++) {
        const x = Math.fround(rand() * 2 - 1);
        const d = Array.from(table, (c) => Math.abs(x - c));
        const best = Math.min(...d);
        const second = Math.min(...d.filter((v) => v > best + 1e-6));
        if (second - best < 2e-6) continue;
        expect(d[quant(x)]).toBe(best);
      }
    }
  });
});

describe('blockwise 4-bit', () => {
  it('hand block: absmax 2, codes and values', () => {
    const x = Float32Array.from([1, -2, 0, 2, 0.9]); // normalized: 0.5, −1, 0, 1, 0.45
    const q = quantize4bit(x, 'nf4', 64);
    expect(Array.from(q.absmax)).toEqual([2]);
    expect(Array.from(q.codes)).toEqual([12, 0, 7, 15, 12]); // 0.5 < midpoint 0.5017 → 0.4407
    expect(Array.from(dequantize4bit(q))).toEqual([NF4_CODE[12] * 2, -2, 0, 2, NF4_CODE[12] * 2].map(Math.fround));
  });

  it('blocks of 64 run over the flattened tensor, across rows; last block ragged', () => {
    const rand = seededRandom(43);
    const n = 5 * 172; // 860 = 13 blocks of 64 + 28
    const x = Float32Array.from({ length: n }, () => (rand() - 0.5) * (rand() < 0.02 ? 20 : 2));
    for (const kind of ['nf4', 'fp4'] as const) {
      const q = quantize4bit(x, kind, 64);
      expect(q.absmax.length).toBe(14);
      const table = kind === 'nf4' ? NF4_CODE : FP4_CODE;
      for (let b = 0; b < 14; b++) {
        const blk = Array.from(x.slice(64 * b, Math.min(64 * b + 64, n)));
        expect(q.absmax[b]).toBe(Math.max(...blk.map(Math.abs)));
      }
      const xh = dequantize4bit(q);
      for (let i = 0; i < n; i++) {
        const a = q.absmax[i >> 6];
        const v = Math.fround(x[i] * Math.fround(1 / a));
        const nearest = Math.min(...Array.from(table, (c) => Math.abs(v - c)));
        expect(Math.abs(v - table[q.codes[i]])).toBeLessThanOrEqual(nearest + 1e-6);
        expect(xh[i]).toBe(Math.fround(table[q.codes[i]] * a));
      }
    }
  });

  it('an all-zero block dequantizes to zeros', () => {
    const q = quantize4bit(new Float32Array(70), 'nf4', 64);
    expect(Array.from(q.absmax)).toEqual([0, 0]);
    expect(dequantize4bit(q).every((v) => v === 0)).toBe(true);
  });
});

describe('double quantization (bnb dynamic map, block 256)', () => {
  it('the dynamic map: 256 ascending values in [−0.993, 1] with 0 and 1', () => {
    expect(DYNAMIC_MAP.length).toBe(256);
    for (let i = 1; i < 256; i++) expect(DYNAMIC_MAP[i]).toBeGreaterThan(DYNAMIC_MAP[i - 1]);
    expect(DYNAMIC_MAP[255]).toBe(1);
    expect(DYNAMIC_MAP.includes(0)).toBe(true);
    expect(DYNAMIC_MAP[0]).toBeCloseTo(-0.99297, 4); // −(0.9859375 + 1) / 2
    expect(DYNAMIC_MAP.filter((v) => v > 0).length).toBe(128);
    expect(DYNAMIC_MAP[128]).toBeCloseTo(0.55e-6, 9); // smallest positive: 10^-6 · (0.1 + 1) / 2
  });

  it('quantizeDynamic picks the nearest entry', () => {
    const rand = seededRandom(47);
    for (let n = 0; n < 5000; n++) {
      const x = Math.fround((rand() * 2 - 1) * 10 ** -Math.floor(rand() * 6));
      const q = quantizeDynamic(DYNAMIC_MAP, x);
      const d = Array.from(DYNAMIC_MAP, (c) => Math.abs(x - c));
      expect(d[q]).toBeLessThanOrEqual(Math.min(...d) * (1 + 1e-6) + 1e-12);
    }
    expect(quantizeDynamic(DYNAMIC_MAP, 1)).toBe(255);
    expect(quantizeDynamic(DYNAMIC_MAP, -1)).toBe(0);
  });

  it('absmax − mean in 8-bit blocks of 256 comes back within half a map step', () => {
    const rand = seededRandom(53);
    const absmax = Float32Array.from({ length: 600 }, () => Math.fround(0.05 + rand() * 0.1));
    const dq = doubleQuantize(absmax);
    expect(dq.absmax2.length).toBe(3);
    let mean = 0;
    for (const a of absmax) mean += a;
    expect(dq.offset).toBeCloseTo(mean / 600, 6);
    const back = doubleDequantize(dq);
    for (let b = 0; b < 600; b++) {
      const s2 = dq.absmax2[Math.floor(b / 256)];
      expect(Math.abs(back[b] - absmax[b])).toBeLessThanOrEqual(0.01 * s2 + 1e-7); // max map gap ≈ 0.014
    }
  });
});
