// quantizeTensor / dequantizeTensor: packed tensors decode to exactly what the unpacked
// quantizers produce, byte counts are exact, gIdx and f16/dq8 scales are honoured.
import { describe, expect, it } from 'vitest';
import { f32Tensor, type F32Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { LINEAR_NAMES } from '../../src/core/model/model.ts';
import { bitsPerWeight, unpackScales, unpackZeros, weightBytes } from '../../src/core/quant/format.ts';
import { dequantize4bit, doubleDequantize, doubleQuantize, quantize4bit } from '../../src/core/quant/nf4.ts';
import { packF16Pairs, packRows, packU8 } from '../../src/core/quant/packing.ts';
import {
  dequantizeTensor,
  packUniform,
  quantizeTensor,
  type QuantizeOptions,
} from '../../src/core/quant/quantize-tensor.ts';
import { dequantizeMatrix, errorStats, quantizeMatrix } from '../../src/core/quant/uniform.ts';
import { roundToF16 } from '../../src/core/quant/float-formats.ts';
import { seededRandom, stories260K } from './helpers.ts';

const randomMatrix = (rows: number, cols: number, seed: number): Float32Array => {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: rows * cols }, () => (rand() - 0.5) * 0.2);
};

describe('uniform tensors', () => {
  const shapes: [number, number][] = [
    [64, 172],
    [3, 33],
    [1, 7],
    [5, 1],
  ];
  for (const [format, bits] of [
    ['q8', 8],
    ['q4', 4],
    ['q3', 3],
    ['q2', 2],
  ] as const) {
    it(`${format}: dequantizeTensor equals the unpacked quantizer, for sym/asym, row and ragged groups`, () => {
      for (const [rows, cols] of shapes) {
        const w = randomMatrix(rows, cols, rows * 1000 + cols);
        const t = f32Tensor([rows, cols], w);
        for (const sym of [false, true]) {
          for (const group of [undefined, 32, 5]) {
            const q = quantizeTensor(t, { format, sym, group });
            const ref = quantizeMatrix(w, rows, cols, { bits, sym, granularity: group ? 'group' : 'row', group });
            expect(q.format).toBe(format);
            expect(q.group).toBe(ref.group);
            expect(q.buffers.data).toEqual(packRows(ref.codes, rows, cols, bits));
            expect(Array.from(unpackScales(q))).toEqual(Array.from(ref.scales));
            expect('zeros' in q.buffers).toBe(!sym);
            if (!sym) expect(unpackZeros(q as UniformQuantTensor)).toEqual(ref.zeros);
            const back = dequantizeTensor(q);
            expect(back.shape).toEqual([rows, cols]);
            expect(back.data).toEqual(dequantizeMatrix(ref));
          }
        }
      }
    });
  }

  it('exact byte counts: q4, in = 172, G = 32 (ragged), asym', () => {
    const q = quantizeTensor(f32Tensor([64, 172], randomMatrix(64, 172, 1)), { format: 'q4', group: 32 });
    // codes: 64 rows × ⌈172/8⌉ = 22 words; scales: 64 × ⌈172/32⌉ = 6 groups × 4 B; zeros: 384 bytes
    expect(weightBytes(q)).toBe(64 * 22 * 4 + 64 * 6 * 4 + 384);
    expect(bitsPerWeight(q)).toBeCloseTo((8 * 7552) / (64 * 172), 12);
    const q3 = quantizeTensor(f32Tensor([8, 64], randomMatrix(8, 64, 2)), {
      format: 'q3',
      sym: true,
      granularity: 'row',
    });
    expect(weightBytes(q3)).toBe(8 * 6 * 4 + 8 * 4); // exactly 3 bits/weight + one f32 scale per row
    expect(weightBytes(f32Tensor([2, 3], new Float32Array(6)))).toBe(24);
  });

  it('f16 scales: stored as pairs, codes computed with the rounded scale', () => {
    const w = randomMatrix(6, 40, 3);
    const t = f32Tensor([6, 40], w);
    const q = quantizeTensor(t, { format: 'q4', group: 16, scaleType: 'f16' });
    const ref = quantizeMatrix(w, 6, 40, { bits: 4, sym: false, granularity: 'group', group: 16, f16Scales: true });
    expect(q.buffers.scales).toBeInstanceOf(Uint32Array);
    expect(q.buffers.scales).toEqual(packF16Pairs(ref.scales));
    expect(Array.from(unpackScales(q))).toEqual(Array.from(ref.scales).map(roundToF16));
    expect(dequantizeTensor(q).data).toEqual(dequantizeMatrix(ref));
  });

  it('per-tensor granularity replicates one scale per row', () => {
    const q = quantizeTensor(f32Tensor([4, 9], randomMatrix(4, 9, 4)), { format: 'q8', granularity: 'tensor' });
    const s = unpackScales(q);
    expect(s.length).toBe(4);
    expect(new Set(s).size).toBe(1);
  });

  it('strictGroups refuses a ragged last group', () => {
    const t = f32Tensor([2, 172], randomMatrix(2, 172, 5));
    expect(() => quantizeTensor(t, { format: 'q4', group: 64, strictGroups: true })).toThrow(
      'group 64 does not divide in=172',
    );
    expect(() => quantizeTensor(t, { format: 'q4', group: 43, strictGroups: true })).not.toThrow();
  });

  it('gIdx: each column reads the scale of its own group', () => {
    // Quantize per group of 4 over 8 columns, then swap the two groups' (scale, zero) and point
    // gIdx at the swapped slots: the dequantized matrix must not change.
    const rows = 3;
    const cols = 8;
    const w = randomMatrix(rows, cols, 6);
    const ref = quantizeMatrix(w, rows, cols, { bits: 4, sym: false, granularity: 'group', group: 4 });
    const swap = <T extends Float32Array | Uint8Array>(a: T): T => {
      const b = a.slice() as T;
      for (let r = 0; r < rows; r++) {
        b[2 * r] = a[2 * r + 1];
        b[2 * r + 1] = a[2 * r];
      }
      return b;
    };
    const t: UniformQuantTensor = {
      format: 'q4',
      shape: [rows, cols],
      granularity: 'group',
      group: 4,
      sym: false,
      scaleType: 'f32',
      buffers: {
        data: packRows(ref.codes, rows, cols, 4),
        scales: swap(ref.scales),
        zeros: packU8(swap(ref.zeros)),
        gIdx: Uint32Array.from([1, 1, 1, 1, 0, 0, 0, 0]),
      },
    };
    expect(dequantizeTensor(t).data).toEqual(dequantizeMatrix(ref));
    expect(weightBytes(t)).toBe(3 * 4 + 6 * 4 + 8 + 8 * 4);
    // the same through packUniform (the GPTQ path)
    const viaPack = packUniform({ ...ref, scales: swap(ref.scales), zeros: swap(ref.zeros) }, 'f32', t.buffers.gIdx);
    expect(viaPack).toEqual(t);
    expect(() => packUniform(ref, 'f32', Uint32Array.from([0, 0, 0, 0, 2, 2, 2, 2]))).toThrow(/below 2/);
    expect(() => packUniform({ ...ref, bits: 5 })).toThrow(/5-bit/);
  });

  it('rejects non-matrices and unknown formats', () => {
    expect(() => quantizeTensor(f32Tensor([4], new Float32Array(4)), { format: 'q4' })).toThrow(/matrix/);
    expect(() => quantizeTensor(f32Tensor([1, 4], new Float32Array(4)), { format: 'q5' as 'q4' })).toThrow(
      /unknown format/,
    );
  });
});

describe('nf4 / fp4 tensors', () => {
  it('packed tensor decodes like the unpacked bnb quantizer; bytes = n/2 (padded to u32) + 4 per block', () => {
    const w = randomMatrix(5, 172, 7);
    for (const format of ['nf4', 'fp4'] as const) {
      const q = quantizeTensor(f32Tensor([5, 172], w), { format });
      const ref = quantize4bit(w, format, 64);
      expect([q.group, q.scaleType]).toEqual([64, 'f32']);
      expect(dequantizeTensor(q).data).toEqual(dequantize4bit(ref));
      expect(weightBytes(q)).toBe(4 * Math.ceil(860 / 8) + 14 * 4); // 430 bytes of codes padded to whole words
    }
  });

  it('double quantization: u8 absmax codes + one f32 per 256 blocks + offset', () => {
    const w = randomMatrix(64, 512, 8); // 32768 elements → 512 blocks → 2 second-level blocks
    const q = quantizeTensor(f32Tensor([64, 512], w), { format: 'nf4', doubleQuant: true });
    expect(q.scaleType).toBe('dq8');
    const ref = quantize4bit(w, 'nf4', 64);
    const absmax = doubleDequantize(doubleQuantize(ref.absmax));
    expect(unpackScales(q)).toEqual(absmax);
    expect(dequantizeTensor(q).data).toEqual(dequantize4bit({ ...ref, absmax }));
    expect(weightBytes(q)).toBe(32768 / 2 + 512 + 2 * 4 + 4);
    expect(bitsPerWeight(q)).toBeCloseTo(4 + 8 / 64 + (12 * 8) / 32768, 12);
  });
});

describe('real weights (stories260K)', () => {
  it('every linear: SQNR falls with bits, ragged in = 172 handled, bits/weight as laid out', () => {
    const model = parseLlama2c(stories260K());
    // [options, minimum SQNR dB]: measured ≈ 44 / 21 / 15 / 7.7 / 20 / 18 dB on layer 2
    const cases: [QuantizeOptions, number][] = [
      [{ format: 'q8' }, 38],
      [{ format: 'q4', group: 32 }, 17],
      [{ format: 'q3', group: 32 }, 11],
      [{ format: 'q2', group: 32 }, 4],
      [{ format: 'nf4' }, 16],
      [{ format: 'fp4' }, 14],
    ];
    for (const layer of model.weights.layers) {
      for (const name of LINEAR_NAMES) {
        const t = layer[name] as F32Tensor;
        const sqnr = cases.map(([opts, min]) => {
          const q = quantizeTensor(t, opts);
          const s = errorStats(t.data, dequantizeTensor(q).data).sqnrDb;
          expect(s, `${name} ${JSON.stringify(opts)}`).toBeGreaterThan(min);
          return s;
        });
        for (let i = 1; i < 4; i++) expect(sqnr[i]).toBeLessThan(sqnr[i - 1]);
        const [out, inn] = t.shape;
        const q4 = quantizeTensor(t, { format: 'q4', group: 32 });
        expect(weightBytes(q4)).toBe(
          4 * out * Math.ceil(inn / 8) + 4 * out * Math.ceil(inn / 32) + 4 * Math.ceil((out * Math.ceil(inn / 32)) / 4),
        );
      }
    }
  });
});
