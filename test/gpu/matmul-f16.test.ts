// 16-bit weights (core F16Tensor, fp16 pairs): the f16 GEMV (plain / RMSNorm / SwiGLU prologues,
// accumulate epilogue) and GEMM kernels vs the CPU twin linear() on the same tensor (which
// widens the halves and sums in f64), and the f16 / q8 / q4 embedding lookups vs embeddingRows
// (exact: a gather of decoded values). Tolerance as matmul.test.ts: 1e-5·√K + 1e-4·|cpu|.
import { beforeAll, describe, expect, it } from 'vitest';
import { f16TensorFromF32 } from '../../src/core/formats/f16-tensor.ts';
import { embeddingRows, linear } from '../../src/core/model/linear.ts';
import * as ops from '../../src/core/model/ops.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor } from '../../src/core/tensor.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import { uploadLinear, uploadTable } from '../../src/gpu/weights.ts';
import { expectClose, gpuContext, randomF32, read, rng, run, upload, zeros } from './setup-device.ts';

const tol = (K: number) => ({ atol: 1e-5 * Math.sqrt(K), rtol: 1e-4 });

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

// (N, K): odd sizes (an odd N·K leaves half of the last word as padding) and stories260K's.
const SHAPES: [number, number][] = [
  [1, 1],
  [7, 1],
  [1, 7],
  [7, 33],
  [33, 7],
  [172, 64],
  [64, 172],
  [33, 1000],
];

const f16Weight = (rand: () => number, N: number, K: number) => f16TensorFromF32([N, K], randomF32(rand, N * K));

describe('f16 GEMV (M = 1)', () => {
  it.each(SHAPES)('N=%i K=%i: plain, RMSNorm, SwiGLU prologues; accumulate', async (N, K) => {
    const rand = rng(N * 7919 + K);
    const t = f16Weight(rand, N, K);
    const w = uploadLinear(ctx, [t], 'w16');
    expect(w.format).toBe('f16');
    const x = randomF32(rand, 2 * K);
    const g = randomF32(rand, K);
    const base = randomF32(rand, N);
    // plain
    let want = new Float32Array(N);
    linear(want, x.subarray(0, K), t, 1, K, N);
    let out = zeros(ctx, N);
    await run(ctx, (rec) => k.matmul(rec, { x: upload(ctx, x), w, out, M: 1 }));
    expectClose(await read(ctx, out, N), want, tol(K), 'gemv');
    // RMSNorm prologue
    const xn = new Float32Array(K);
    ops.rmsnorm(xn, x.subarray(0, K), g, 1, K, 1e-5);
    want = new Float32Array(N);
    linear(want, xn, t, 1, K, N);
    out = zeros(ctx, N);
    await run(ctx, (rec) =>
      k.matmul(rec, {
        x: upload(ctx, x),
        w,
        out,
        M: 1,
        prologue: { kind: 'rmsnorm', weight: upload(ctx, g), eps: 1e-5 },
      }),
    );
    expectClose(await read(ctx, out, N), want, tol(K), 'gemv');
    // SwiGLU prologue + accumulate
    const h = new Float32Array(K);
    ops.siluMul(h, x.subarray(0, K), x.subarray(K), K);
    want = new Float32Array(N);
    linear(want, h, t, 1, K, N);
    want = want.map((v, i) => v + base[i]);
    out = upload(ctx, base.slice(), 'out');
    await run(ctx, (rec) =>
      k.matmul(rec, { x: upload(ctx, x), w, out, M: 1, prologue: { kind: 'swiglu' }, accumulate: true }),
    );
    expectClose(await read(ctx, out, N), want, tol(K), 'gemv');
  });
});

describe('f16 GEMM (M > 1)', () => {
  it.each(SHAPES.flatMap(([N, K]) => [3, 33].map((M) => [M, N, K] as const)))('M=%i N=%i K=%i', async (M, N, K) => {
    const rand = rng(M * 31 + N * 7 + K);
    const t = f16Weight(rand, N, K);
    const x = randomF32(rand, M * K);
    const want = new Float32Array(M * N);
    linear(want, x, t, M, K, N);
    const out = zeros(ctx, M * N);
    await run(ctx, (rec) => k.matmul(rec, { x: upload(ctx, x), w: uploadLinear(ctx, [t], 'w16'), out, M }));
    expectClose(await read(ctx, out, M * N), want, tol(K), 'gemm');
  });

  it('stacked odd-row f16 parts merge into one weight; split parts (odd K) agree with the twin', async () => {
    const rand = rng(5);
    const [K, M] = [33, 3];
    const parts = [f16Weight(rand, 7, K), f16Weight(rand, 5, K), f16Weight(rand, 9, K)];
    const x = randomF32(rand, M * K);
    const want = new Float32Array(M * 21);
    const whole = f32Tensor([21, K], new Float32Array(parts.flatMap((p) => [...f32Of(p)])));
    linear(want, x, whole, M, K, 21);
    for (const cap of [undefined, 16 * K * 2]) {
      const w = uploadLinear(ctx, parts, 'w16', cap);
      expect(w.format === 'stack' ? w.parts.map((p) => p.format) : [w.format]).toEqual(cap ? ['f16', 'f16'] : ['f16']);
      const out = zeros(ctx, M * 21);
      await run(ctx, (rec) => k.matmul(rec, { x: upload(ctx, x), w, out, M }));
      expectClose(await read(ctx, out, M * 21), want, tol(K), 'stack');
    }
  });
});

const f32Of = (t: ReturnType<typeof f16TensorFromF32>) => {
  const out = new Float32Array(t.shape[0] * t.shape[1]);
  linear(out, eye(t.shape[1]), t, t.shape[1], t.shape[1], t.shape[0]); // (K, N) = Wᵀ
  const w = new Float32Array(out.length);
  for (let n = 0; n < t.shape[0]; n++)
    for (let c = 0; c < t.shape[1]; c++) w[n * t.shape[1] + c] = out[c * t.shape[0] + n];
  return w;
};
const eye = (n: number) => Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));

describe('embedding lookup from 16-bit and quantized tables (exact)', () => {
  const tables = (vocab: number, dim: number, seed: number) => {
    const values = randomF32(rng(seed), vocab * dim);
    const f32 = f32Tensor([vocab, dim], values);
    return {
      f16: f16TensorFromF32([vocab, dim], values),
      q8row: quantizeTensor(f32, { format: 'q8', granularity: 'row' }),
      q4g32: quantizeTensor(f32, { format: 'q4', group: 32, sym: true }),
      q4asymF16: quantizeTensor(f32, { format: 'q4', group: 32, sym: false, scaleType: 'f16' }),
    };
  };
  it.each([
    [512, 64],
    [33, 7],
    [7, 33],
    [97, 172],
  ])('vocab %i dim %i: every format, whole and split into row parts', async (vocab, dim) => {
    const ids = [0, vocab - 1, Math.floor(vocab / 2), 1 % vocab, vocab - 1];
    for (const [name, t] of Object.entries(tables(vocab, dim, vocab + dim))) {
      const want = embeddingRows(t, ids, dim);
      for (const cap of [undefined, 4096]) {
        const table = uploadTable(ctx, t, name, cap);
        const leaves = table.format === 'stack' ? table.parts : [table];
        expect(
          leaves.every((l) => l.format === t.format),
          name,
        ).toBe(true);
        const out = zeros(ctx, ids.length * dim);
        await run(ctx, (rec) =>
          k.embedTable(rec, { tokens: upload(ctx, Uint32Array.from(ids)), tokOff: 0, table, out, M: ids.length }),
        );
        expect(await read(ctx, out, ids.length * dim), `${name} cap ${cap}`).toEqual(want);
      }
    }
  });
});
