// GEMV (M = 1; workgroup and subgroup reductions; plain / RMSNorm / SwiGLU prologues;
// accumulate epilogue) and tiled GEMM (M > 1) vs ops.matmul, which sums in f64.
// Tolerance: |gpu − cpu| <= 1e-5·sqrt(K) + 1e-4·|cpu| for inputs in [-1, 1): f32 rounding
// of a K-term sum grows like sqrt(K) ulp of the partial sums.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/core/model/ops.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import type { GpuWeight } from '../../src/gpu/weights.ts';
import { expectClose, gpuContext, randomF32, read, rng, run, upload, zeros } from './setup-device.ts';

const TAIL = -777; // fills buffer space past the output
const tol = (K: number) => ({ atol: 1e-5 * Math.sqrt(K), rtol: 1e-4 });

let sg: GpuContext; // subgroup reductions (SwiftShader offers subgroups, size 4)
let wg: GpuContext; // workgroup-memory reductions
beforeAll(async () => {
  sg = await gpuContext();
  wg = await gpuContext({ disableSubgroups: true });
});

const weight = (ctx: GpuContext, w: Float32Array, N: number, K: number): GpuWeight => ({
  format: 'f32',
  n: N,
  k: K,
  data: upload(ctx, w, 'w'),
});

// (N, K): odd sizes, sizes of stories260K's linears, and a larger one.
const SHAPES: [number, number][] = [
  [1, 1],
  [7, 1],
  [1, 7],
  [7, 33],
  [33, 7],
  [172, 64],
  [64, 172],
  [512, 64],
  [97, 48],
  [33, 1000],
  [4096, 64],
];

describe('device variant choice', () => {
  it('picks the subgroup GEMV when subgroups exist, the workgroup one when disabled', () => {
    expect(sg.caps.subgroups).toBe(true);
    expect(sg.kernels.gemv).toBe('matmul_gemv_f32_sg');
    expect(wg.kernels.gemv).toBe('matmul_gemv_f32');
  });
});

describe.each([
  ['subgroups', () => sg],
  ['workgroup', () => wg],
])('GEMV (%s reductions)', (_name, getCtx) => {
  it.each(SHAPES)('N=%i K=%i plain', async (N, K) => {
    const ctx = getCtx();
    const rand = rng(N * 131 + K);
    const w = randomF32(rand, N * K);
    const x = randomF32(rand, K);
    const want = new Float32Array(N);
    ops.matmul(want, x, w, 1, K, N);
    const out = upload(ctx, new Float32Array(N + 5).fill(TAIL)); // values past N must stay
    await run(ctx, (rec) => k.matmul(rec, { x: upload(ctx, x), w: weight(ctx, w, N, K), out, M: 1 }));
    const got = await read(ctx, out, N + 5);
    expectClose(got.subarray(0, N), want, tol(K), `gemv N=${N} K=${K}`);
    expect([...got.subarray(N)]).toEqual(new Array(5).fill(TAIL));
  });

  it.each(SHAPES)('N=%i K=%i RMSNorm prologue, x at an offset, accumulate', async (N, K) => {
    const ctx = getCtx();
    const rand = rng(N * 7 + K * 3);
    const w = randomF32(rand, N * K);
    const x = randomF32(rand, 3 * K, 2); // the last of 3 rows is used
    const g = randomF32(rand, K);
    const base = randomF32(rand, N);
    const xn = new Float32Array(K);
    ops.rmsnorm(xn, x.subarray(2 * K), g, 1, K, 1e-5);
    const want = new Float32Array(N);
    ops.matmul(want, xn, w, 1, K, N);
    ops.addInPlace(want, base, N);
    const out = upload(ctx, base);
    await run(ctx, (rec) =>
      k.matmul(rec, {
        x: upload(ctx, x),
        xOff: 2 * K,
        w: weight(ctx, w, N, K),
        out,
        M: 1,
        prologue: { kind: 'rmsnorm', weight: upload(ctx, g), eps: 1e-5 },
        accumulate: true,
      }),
    );
    // x̂ has |values| up to ~sqrt(K)·|g|, so the matmul's error bound scales with it too.
    expectClose(await read(ctx, out, N), want, { atol: 1e-5 * K, rtol: 1e-4 }, `gemv+rmsnorm N=${N} K=${K}`);
  });

  it.each(SHAPES)('N=%i K=%i SwiGLU prologue', async (N, K) => {
    const ctx = getCtx();
    const rand = rng(N * 11 + K * 5);
    const w = randomF32(rand, N * K);
    const gu = randomF32(rand, 2 * K, 4);
    const h = new Float32Array(K);
    ops.siluMul(h, gu.subarray(0, K), gu.subarray(K), K);
    const want = new Float32Array(N);
    ops.matmul(want, h, w, 1, K, N);
    const out = zeros(ctx, N);
    await run(ctx, (rec) =>
      k.matmul(rec, { x: upload(ctx, gu), w: weight(ctx, w, N, K), out, M: 1, prologue: { kind: 'swiglu' } }),
    );
    expectClose(
      await read(ctx, out, N),
      want,
      { atol: 1e-5 * Math.sqrt(K) * 4, rtol: 1e-4 },
      `gemv+swiglu N=${N} K=${K}`,
    );
  });
});

describe('GEMM (M > 1, tiled)', () => {
  const CASES: [number, number, number][] = [
    // [M, N, K]
    [2, 1, 1],
    [7, 7, 7],
    [33, 33, 33],
    [9, 172, 64],
    [9, 64, 172],
    [64, 512, 64],
    [33, 97, 48],
    [65, 40, 1000],
    [512, 64, 64],
  ];
  it.each(CASES)('M=%i N=%i K=%i', async (M, N, K) => {
    const ctx = sg;
    const rand = rng(M * 1009 + N * 31 + K);
    const w = randomF32(rand, N * K);
    const x = randomF32(rand, M * K);
    const want = new Float32Array(M * N);
    ops.matmul(want, x, w, M, K, N);
    const out = upload(ctx, new Float32Array(M * N + 5).fill(TAIL));
    await run(ctx, (rec) => k.matmul(rec, { x: upload(ctx, x), w: weight(ctx, w, N, K), out, M }));
    const got = await read(ctx, out, M * N + 5);
    expectClose(got.subarray(0, M * N), want, tol(K), `gemm M=${M} N=${N} K=${K}`);
    expect([...got.subarray(M * N)]).toEqual(new Array(5).fill(TAIL));
  });

  it('accumulates into out (residual add)', async () => {
    const [M, N, K] = [9, 48, 33];
    const ctx = sg;
    const rand = rng(5);
    const w = randomF32(rand, N * K);
    const x = randomF32(rand, M * K);
    const base = randomF32(rand, M * N);
    const want = new Float32Array(M * N);
    ops.matmul(want, x, w, M, K, N);
    ops.addInPlace(want, base, M * N);
    const out = upload(ctx, base);
    await run(ctx, (rec) => k.matmul(rec, { x: upload(ctx, x), w: weight(ctx, w, N, K), out, M, accumulate: true }));
    expectClose(await read(ctx, out, M * N), want, tol(K), 'gemm accumulate');
  });
});

describe('matmul wrapper validation', () => {
  it('rejects buffers too small for the shapes, and prologues with M > 1', async () => {
    const ctx = sg;
    await run(ctx, (rec) => {
      const w = weight(ctx, new Float32Array(8 * 8), 8, 8); // (N, K) = (8, 8)
      expect(() => k.matmul(rec, { x: zeros(ctx, 7), w, out: zeros(ctx, 8), M: 1 })).toThrow(/matmul x/);
      expect(() => k.matmul(rec, { x: zeros(ctx, 8), w, out: zeros(ctx, 7), M: 1 })).toThrow(/matmul out/);
      expect(() =>
        k.matmul(rec, { x: zeros(ctx, 16), w, out: zeros(ctx, 16), M: 2, prologue: { kind: 'swiglu' } }),
      ).toThrow(/M = 1/);
      expect(() => k.matmul(rec, { x: zeros(ctx, 8), w, out: zeros(ctx, 8), M: 0 })).toThrow(/positive/);
      const both = zeros(ctx, 8);
      expect(() => k.matmul(rec, { x: both, w, out: both, M: 1 })).toThrow(/different buffers/);
    });
  });
});
