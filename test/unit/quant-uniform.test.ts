// Uniform (RTN) quantizer and absmax int8 against hand-computed vectors and error bounds.
import { describe, expect, it } from 'vitest';
import { clamp, roundHalfAway, roundHalfEven } from '../../src/core/quant/rounding.ts';
import {
  absmaxInt8,
  dequantizeAbsmaxInt8,
  dequantizeMatrix,
  errorStats,
  fakeQuantize,
  fitParams,
  groupLayout,
  quantizeMatrix,
  requireWholeGroups,
  type UniformOptions,
} from '../../src/core/quant/uniform.ts';
import { roundToF16 } from '../../src/core/quant/float-formats.ts';
import { seededRandom } from './helpers.ts';

describe('rounding', () => {
  it('roundHalfEven ties to even (WGSL round)', () => {
    const xs = [
      0.5,
      1.5,
      2.5,
      3.5,
      -0.5,
      -1.5,
      -2.5,
      0.49999999999999994,
      2.5000000000000004,
      1.4999999,
      -7.5,
      1e15 + 0.5,
    ];
    expect(xs.map((x) => roundHalfEven(x) + 0)).toEqual([0, 2, 2, 4, 0, -2, -2, 0, 3, 1, -8, 1e15]); // + 0: ±0 alike
  });
  it('roundHalfAway ties away from zero (C roundf)', () => {
    const xs = [0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994, -2.4999999, 7];
    expect(xs.map((x) => roundHalfAway(x) + 0)).toEqual([1, 2, 3, -1, -3, 0, -2, 7]);
  });
  it('clamp', () => {
    expect([clamp(-1, 0, 15), clamp(16, 0, 15), clamp(7, 0, 15)]).toEqual([0, 15, 7]);
  });
});

describe('uniform quantizer: hand-computed vectors', () => {
  it('4-bit asymmetric group, with ties resolved to even', () => {
    // xmin = −1.5, xmax = 6: scale = 7.5 / 15 = 0.5, zero = round(1.5 / 0.5) = 3.
    // x / scale + zero: −1.5→0, 0→3, 1.25→2.5+3 → round(2.5)=2 → 5, 1.75→round(3.5)=4 → 7, 6→15.
    const x = Float32Array.from([-1.5, 0, 1.25, 1.75, 6]);
    const q = quantizeMatrix(x, 1, 5, { bits: 4, sym: false, granularity: 'row' });
    expect(q.scales[0]).toBe(0.5);
    expect(q.zeros[0]).toBe(3);
    expect(Array.from(q.codes)).toEqual([0, 3, 5, 7, 15]);
    expect(Array.from(dequantizeMatrix(q))).toEqual([-1.5, 0, 1, 2, 6]);
  });

  it('3-bit symmetric: zero = 4, the top value clips by half a step', () => {
    // xmax = max(|−3.5|, 3.5) = 3.5, scale = 7 / 7 = 1, zero = (7 + 1) / 2 = 4.
    const x = Float32Array.from([-3.5, -0.5, 0, 2.5, 3.5]);
    const q = quantizeMatrix(x, 1, 5, { bits: 3, sym: true, granularity: 'row' });
    expect([q.scales[0], q.zeros[0]]).toEqual([1, 4]);
    expect(Array.from(q.codes)).toEqual([0, 4, 4, 6, 7]); // −4+4, −0+4, 4, 2+4, clamp(4+4)
    expect(Array.from(dequantizeMatrix(q))).toEqual([-4, 0, 0, 2, 3]);
  });

  it('the range always contains 0; an all-zero slice uses [−1, 1]', () => {
    const pos = fitParams(Float32Array.from([2, 4]), 0, 2, 2, false); // xmin = 0 → zero 0
    expect(pos).toEqual({ scale: Math.fround(4 / 3), zero: 0 });
    const zeros = fitParams(new Float32Array(4), 0, 4, 4, false);
    // in f32 (as PyTorch): 1 / fround(2/15) = 7.4999995…, not 7.5, so zero = 7
    expect(zeros).toEqual({ scale: Math.fround(2 / 15), zero: 7 });
    const zerosSym = fitParams(new Float32Array(4), 0, 4, 8, true);
    expect(zerosSym).toEqual({ scale: Math.fround(2 / 255), zero: 128 });
    const posSym = fitParams(Float32Array.from([1, 3]), 0, 2, 4, true); // doc: xmin = −xmax always
    expect(posSym).toEqual({ scale: Math.fround(6 / 15), zero: 8 });
  });

  it('per-tensor fits one pair and replicates it per row', () => {
    const x = Float32Array.from([-1, 0.5, 2, 0.25, -0.75, 1]);
    const q = quantizeMatrix(x, 2, 3, { bits: 8, sym: false, granularity: 'tensor' });
    const p = fitParams(x, 0, 6, 8, false);
    expect(Array.from(q.scales)).toEqual([p.scale, p.scale]);
    expect(Array.from(q.zeros)).toEqual([p.zero, p.zero]);
  });

  it('rejects bad bits, non-finite weights and bad groups', () => {
    const x = new Float32Array(4);
    expect(() => quantizeMatrix(x, 1, 4, { bits: 1, sym: false, granularity: 'row' })).toThrow(/2\.\.8/);
    expect(() =>
      quantizeMatrix(Float32Array.from([NaN, 1, 2, 3]), 1, 4, { bits: 4, sym: false, granularity: 'row' }),
    ).toThrow(/non-finite/);
    expect(() => quantizeMatrix(x, 1, 4, { bits: 4, sym: false, granularity: 'group', group: 0 })).toThrow(
      /group size/,
    );
    expect(() => quantizeMatrix(x, 2, 4, { bits: 4, sym: false, granularity: 'row' })).toThrow(/2×4/);
  });
});

describe('uniform quantizer: groups', () => {
  it('ragged last group: G = 5 over in = 17 gives groups of 5, 5, 5, 2, each fitted on its own columns', () => {
    const rand = seededRandom(5);
    const rows = 3;
    const cols = 17;
    const x = Float32Array.from({ length: rows * cols }, () => rand() * 4 - 2);
    const q = quantizeMatrix(x, rows, cols, { bits: 4, sym: false, granularity: 'group', group: 5 });
    expect([q.group, q.nGroups]).toEqual([5, 4]);
    for (let r = 0; r < rows; r++) {
      for (const [g, start, end] of [
        [0, 0, 5],
        [1, 5, 10],
        [2, 10, 15],
        [3, 15, 17],
      ]) {
        const p = fitParams(x, r * cols + start, r * cols + end, 4, false);
        expect([q.scales[r * 4 + g], q.zeros[r * 4 + g]]).toEqual([p.scale, p.zero]);
      }
    }
  });

  it('strict validation reports "group G does not divide in=K"', () => {
    expect(() => requireWholeGroups(64, 172)).toThrow('group 64 does not divide in=172');
    expect(() => requireWholeGroups(43, 172)).not.toThrow();
    expect(groupLayout({ granularity: 'group', group: 64 }, 172)).toEqual({ group: 64, nGroups: 3 });
    expect(groupLayout({ granularity: 'group', group: 500 }, 172)).toEqual({ group: 172, nGroups: 1 });
    expect(groupLayout({ granularity: 'row' }, 172)).toEqual({ group: 172, nGroups: 1 });
  });
});

describe('uniform quantizer: error bounds on random matrices', () => {
  const shapes: [number, number][] = [
    [1, 1],
    [3, 7],
    [5, 33],
    [64, 172],
    [7, 64],
  ];
  const grans: Pick<UniformOptions, 'granularity' | 'group'>[] = [
    { granularity: 'tensor' },
    { granularity: 'row' },
    { granularity: 'group', group: 1 },
    { granularity: 'group', group: 5 },
    { granularity: 'group', group: 32 },
    { granularity: 'group', group: 64 },
  ];
  it('|x − x̂| ≤ scale/2 everywhere (the range always covers x), codes within [0, maxq]', () => {
    const rand = seededRandom(17);
    for (const [rows, cols] of shapes) {
      const x = Float32Array.from({ length: rows * cols }, () => (rand() - 0.3) * 3 * (rand() < 0.05 ? 10 : 1));
      for (const bits of [2, 3, 4, 5, 8]) {
        for (const sym of [false, true]) {
          for (const g of grans) {
            const exact = quantizeMatrix(x, rows, cols, { bits, sym, ...g }); // f32 scales
            for (const f16Scales of [false, true]) {
              const opts = { bits, sym, f16Scales, ...g };
              const fq = fakeQuantize(x, rows, cols, opts);
              const { q } = fq;
              let excess = 0; // worst |x − x̂| beyond the allowed bound, in units of the scale
              let codesOk = true;
              for (let r = 0; r < rows; r++) {
                for (let c = 0; c < cols; c++) {
                  const gi = r * q.nGroups + Math.floor(c / q.group);
                  const s = q.scales[gi];
                  // f16 scales: a grid shrunk by |s32 − s16| per step may clip the top by maxq·|s32 − s16|
                  const xv = x[r * cols + c];
                  const bound =
                    s / 2 + (2 ** bits - 1) * Math.abs(exact.scales[gi] - s) + s * 1e-5 + Math.abs(xv) * 2 ** -22; // + f32 rounding
                  excess = Math.max(excess, (Math.abs(xv - fq.w[r * cols + c]) - bound) / s);
                  codesOk &&= q.codes[r * cols + c] <= 2 ** bits - 1 && (!f16Scales || s === roundToF16(s));
                }
              }
              expect(excess, JSON.stringify({ rows, cols, ...opts })).toBeLessThanOrEqual(0);
              expect(codesOk).toBe(true);
            }
          }
        }
      }
    }
  });

  it('more bits never hurt: SQNR grows with bits (per-row, asym)', () => {
    const rand = seededRandom(23);
    const x = Float32Array.from({ length: 64 * 172 }, () => rand() * 2 - 1);
    const sqnr = [2, 3, 4, 8].map((bits) => fakeQuantize(x, 64, 172, { bits, sym: false, granularity: 'row' }).sqnrDb);
    for (let i = 1; i < sqnr.length; i++) expect(sqnr[i]).toBeGreaterThan(sqnr[i - 1] + 4);
    expect(sqnr[3]).toBeGreaterThan(45); // ≈ 6.02·8 + 1.76 − a few dB for a uniform distribution
  });
});

describe('error statistics', () => {
  it('max error, mse and SQNR by their formulas', () => {
    const s = errorStats([1, -2, 3, 0], [1.5, -2, 2, 0]);
    expect(s.maxAbsErr).toBe(1);
    expect(s.mse).toBeCloseTo((0.25 + 1) / 4, 12);
    expect(s.sqnrDb).toBeCloseTo(10 * Math.log10(14 / 1.25), 12);
    expect(errorStats([1, 2], [1, 2]).sqnrDb).toBe(Infinity);
  });
});

describe('absmax int8', () => {
  it('hand vector per tensor: s = 127 / max|x|, ties to even', () => {
    // max|x| = 2: s = 63.5; 1 → 63.5 → 64 (even), −2 → −127, 0.5 → 31.75 → 32, 3/127 → 1.5 → 2
    const x = Float32Array.from([1, -2, 0.5, Math.fround(3 / 127)]);
    const a = absmaxInt8(x, 1, 4, 'tensor');
    expect(a.s[0]).toBe(63.5);
    expect(Array.from(a.q)).toEqual([64, -127, 32, 2]);
    expect(dequantizeAbsmaxInt8(a)[1]).toBe(-2);
  });

  it('per row / per token: every row reaches ±127, error ≤ 1/(2s), zero rows give s = 1', () => {
    const rand = seededRandom(29);
    const rows = 9;
    const cols = 37;
    const x = Float32Array.from({ length: rows * cols }, (_, i) =>
      Math.floor(i / cols) === 4 ? 0 : (rand() - 0.5) * 2 ** (i % 7),
    );
    for (const g of ['row', 'token'] as const) {
      const a = absmaxInt8(x, rows, cols, g);
      const xh = dequantizeAbsmaxInt8(a);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(a.q.slice(r * cols, (r + 1) * cols));
        if (r === 4) {
          expect(a.s[r]).toBe(1);
          expect(row.every((v) => v === 0)).toBe(true);
          continue;
        }
        expect(Math.max(...row.map(Math.abs))).toBe(127);
        for (let c = 0; c < cols; c++)
          expect(Math.abs(x[r * cols + c] - xh[r * cols + c])).toBeLessThanOrEqual((0.5 + 1e-5) / a.s[r]);
      }
      expect(a.maxAbsErr).toBeGreaterThan(0);
    }
  });
});
