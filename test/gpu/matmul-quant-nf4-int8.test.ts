// Codebook (NF4 / FP4, incl. double-quantized absmax) and LLM.int8 matmuls on packed weights vs
// the CPU twin linear() (dequantizeTensor / matmulInt8Mixed on the same packed data).
// NF4 / FP4: |gpu − cpu| <= 1e-5·√K + 1e-4·|cpu|, as the f32 tests.
// LLM.int8 / W8A8: the int8 part is exact (same outlier mask, same int8 codes — rounding decided
// exactly —, i32 sums), so without outliers the GPU equals the twin up to the 2–3 roundings of
// f32(acc)·sx·sw: rtol 2e-6. With outlier columns the fp32 part adds a short f32 sum: atol 1e-5.
import { beforeAll, describe, expect, it } from 'vitest';
import { outlierColumns, packInt8Rows, quantizeRowsInt8 } from '../../src/core/quant/llmint8.ts';
import { weightBytes } from '../../src/core/quant/format.ts';
import { quantizeTensor, type QuantizeOptions } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor, type Int8RowsTensor } from '../../src/core/tensor.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { thresholdParams } from '../../src/gpu/matmul-quant.ts';
import { uploadLinear, weightBytesByFormat } from '../../src/gpu/weights.ts';
import { SHAPES, checkMatmul, checkTensor } from './matmul-quant-cases.ts';
import { gpuContext, randomF32, rng } from './setup-device.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

const randomTensor = (N: number, K: number, seed: number) => f32Tensor([N, K], randomF32(rng(seed), N * K));
const int8Tensor = (N: number, K: number, seed: number, threshold: number): Int8RowsTensor =>
  packInt8Rows(quantizeRowsInt8(randomTensor(N, K, seed).data, N, K), N, K, threshold);

describe.each([
  ['nf4', { format: 'nf4' }],
  ['fp4', { format: 'fp4' }],
  ['nf4 double-quantized absmax', { format: 'nf4', doubleQuant: true }],
  ['fp4 block 32', { format: 'fp4', group: 32 }],
] as [string, QuantizeOptions][])('%s', (_name, q) => {
  it.each(SHAPES)('M=%i N=%i K=%i', async (M, N, K) => {
    await checkTensor(ctx, quantizeTensor(randomTensor(N, K, N * 17 + K), q), M);
  });
  it('RMSNorm prologue + accumulate, SwiGLU prologue (M = 1)', async () => {
    await checkTensor(ctx, quantizeTensor(randomTensor(172, 64, 1), q), 1, { prologue: 'rmsnorm', accumulate: true });
    await checkTensor(ctx, quantizeTensor(randomTensor(33, 172, 2), q), 1, {
      prologue: 'swiglu',
      accumulate: true,
      xScale: 2,
    });
  });
});

/** x (M, K) in [-1, 1) with outlier values in columns 3 (row M − 1 only) and K − 2 (row 0). */
function xWithOutliers(M: number, K: number, seed: number): Float32Array {
  const x = randomF32(rng(seed), M * K);
  x[(M - 1) * K + 3] = 8.5;
  x[K - 2] = -6; // exactly the threshold: an outlier (|x| >= 6)
  return x;
}

const EXACT = { atol: 0, rtol: 2e-6 };
const MIXED = { atol: 1e-5, rtol: 2e-6 };

describe('LLM.int8 (threshold 6)', () => {
  it.each(SHAPES)('M=%i N=%i K=%i, outlier columns injected', async (M, N, K) => {
    const x = xWithOutliers(M, K, M + K);
    expect([...outlierColumns(x, M, K, 6)].flatMap((v, i) => (v ? [i] : []))).toEqual([3, K - 2]);
    await checkTensor(ctx, int8Tensor(N, K, N + K, 6), M, { x, tolerance: MIXED });
  });
  it.each(SHAPES)('M=%i N=%i K=%i, no outliers: exact int8 path', async (M, N, K) => {
    await checkTensor(ctx, int8Tensor(N, K, N * 3 + K, 6), M, { tolerance: EXACT });
  });
  it('an all-outlier row and an all-zero row', async () => {
    const [M, N, K] = [3, 7, 40];
    const x = randomF32(rng(1), M * K);
    x.fill(0, K, 2 * K); // row 1: amax 0 → its int8 part is 0
    for (let k = 0; k < K; k += 5) x[k] = 7; // columns 0, 5, ... are outliers for every row
    await checkTensor(ctx, int8Tensor(N, K, 2, 6), M, { x, tolerance: MIXED });
    await checkTensor(ctx, int8Tensor(N, K, 2, 6), 1, { x: x.subarray(0, K), tolerance: MIXED });
  });
  it('values on rounding midpoints (x·127/amax = j + 1/2) round half to even', async () => {
    const K = 64;
    const x = Float32Array.from({ length: K }, (_, i) => (i === 0 ? 127 : i + 0.5 * ((i % 3) - 1)));
    await checkTensor(ctx, int8Tensor(33, K, 3, 200), 1, { x, tolerance: EXACT });
    await checkTensor(ctx, int8Tensor(33, K, 3, 200), 3, {
      x: Float32Array.from([...x, ...x.map((v) => -v), ...x]),
      tolerance: EXACT,
    });
  });
  it("near-midpoint values where f32 round(x·127/amax) would differ from the twin get the twin's code", async () => {
    // For one amax, values next to (j + 1/2)·amax/127 whose f32 quotient rounds the other way.
    const f = Math.fround;
    const amax = f(1.827576994895935);
    const tricky: number[] = [];
    for (let j = 0; j < 127; j++) {
      const v0 = f(((j + 0.5) * amax) / 127);
      for (const v of [v0, f(v0 * (1 + 2 ** -24)), f(v0 * (1 - 2 ** -24))]) {
        const naive = f(f(v * 127) / amax);
        if (Math.floor(naive + 0.5) !== Math.floor((v * 127) / amax + 0.5)) tricky.push(v);
      }
    }
    expect(tricky.length).toBeGreaterThan(3);
    const x = new Float32Array(64);
    x[0] = amax;
    tricky.slice(0, 63).forEach((v, i) => (x[i + 1] = i % 2 ? -v : v));
    await checkTensor(ctx, int8Tensor(33, 64, 8, 6), 1, { x, tolerance: EXACT });
    await checkTensor(ctx, int8Tensor(33, 64, 8, 6), 3, {
      x: Float32Array.from([...x, ...x.map((v) => v / 2), ...x]),
      tolerance: EXACT,
    });
  });
  it('RMSNorm prologue + accumulate, SwiGLU prologue (M = 1)', async () => {
    // x̂ comes from the GPU's f32 RMSNorm / SwiGLU, the twin's from ops (f64 sums): a code may
    // in principle differ by one where x̂·127/amax sits within ~1e-5 of a midpoint (not hit here).
    await checkTensor(ctx, int8Tensor(172, 64, 4, 6), 1, { prologue: 'rmsnorm', accumulate: true });
    await checkTensor(ctx, int8Tensor(33, 172, 5, 6), 1, { prologue: 'swiglu', accumulate: true, xScale: 3 });
  });
  it('the threshold is compared exactly: smallest f32 >= threshold', () => {
    expect(thresholdParams(6)).toEqual({ thr: 6, outliers: 1 });
    expect(thresholdParams(Infinity)).toEqual({ thr: 0, outliers: 0 });
    const t = thresholdParams(6.1).thr;
    expect(t).toBeGreaterThanOrEqual(6.1);
    expect(Math.fround(t)).toBe(t);
    expect(Math.fround(6.1)).toBeLessThan(6.1); // so t is the next f32 up
  });
});

describe('W8A8 (threshold Infinity): no outlier path', () => {
  it.each(SHAPES)('M=%i N=%i K=%i with large activations', async (M, N, K) => {
    const x = xWithOutliers(M, K, 7 * M + K); // 8.5 is just quantized with the rest
    expect(outlierColumns(x, M, K, Infinity).some((v) => v)).toBe(false);
    await checkTensor(ctx, int8Tensor(N, K, N + 2 * K, Infinity), M, { x, tolerance: EXACT });
  });
});

describe('stacked codebook / int8 linears', () => {
  it('merges aligned NF4 parts and LLM.int8 parts with one threshold', async () => {
    const nf4 = [randomTensor(7, 64, 1), randomTensor(33, 64, 2)].map((t) =>
      quantizeTensor(t, { format: 'nf4', doubleQuant: true }),
    );
    const wn = uploadLinear(ctx, nf4, 'nf4');
    expect(wn.format).toBe('nf4');
    for (const M of [1, 17]) await checkMatmul(ctx, nf4, wn, M);
    const i8 = [int8Tensor(7, 96, 1, 6), int8Tensor(9, 96, 2, 6)];
    const wi = uploadLinear(ctx, i8, 'int8');
    expect(wi.format).toBe('llmint8');
    for (const M of [1, 3]) await checkMatmul(ctx, i8, wi, M, { x: xWithOutliers(M, 96, 5), tolerance: MIXED });
  });

  it('stacks NF4 parts that are not whole blocks, and int8 parts with different thresholds', async () => {
    const nf4 = [randomTensor(3, 36, 1), randomTensor(5, 36, 2)].map((t) => quantizeTensor(t, { format: 'nf4' })); // 108 elements
    const wn = uploadLinear(ctx, nf4, 'nf4');
    expect(wn.format === 'stack' && wn.parts.length).toBe(2);
    for (const M of [1, 3]) await checkMatmul(ctx, nf4, wn, M, { accumulate: true });
    const i8 = [int8Tensor(7, 64, 3, 6), int8Tensor(9, 64, 4, Infinity)];
    const wi = uploadLinear(ctx, i8, 'int8');
    expect(wi.format === 'stack' && wi.parts.length).toBe(2);
    for (const M of [1, 17]) await checkMatmul(ctx, i8, wi, M, { x: xWithOutliers(M, 64, 6), tolerance: MIXED });
  });

  it('GPU bytes are the packed sizes (dq8 absmax decoded to f32: 4 bytes per 64 weights)', () => {
    const f = randomTensor(172, 64, 9);
    const nf4 = quantizeTensor(f, { format: 'nf4' });
    expect(weightBytesByFormat(uploadLinear(ctx, [nf4], 'nf4')).nf4).toBe(weightBytes(nf4)); // 4.5 bits / weight
    const dq = quantizeTensor(f, { format: 'nf4', doubleQuant: true });
    expect(weightBytesByFormat(uploadLinear(ctx, [dq], 'dq')).nf4).toBe((172 * 64) / 2 + (4 * (172 * 64)) / 64);
    const i8 = int8Tensor(172, 64, 1, 6);
    expect(weightBytesByFormat(uploadLinear(ctx, [i8], 'i8')).llmint8).toBe(172 * 64 + 172 * 4);
  });
});
