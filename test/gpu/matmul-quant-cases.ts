// Shared by the quantized-matmul GPU tests: run one packed weight through `matmul` on the GPU
// and through its CPU twin `linear()` (src/core/model/linear.ts, which decodes the same packed data),
// with the prologue / epilogue the runner uses, and compare.
import type { Tensor } from '../../src/core/tensor.ts';
import { expect } from 'vitest';
import { linear } from '../../src/core/model/linear.ts';
import * as ops from '../../src/core/model/ops.ts';
import { packUniform } from '../../src/core/quant/quantize-tensor.ts';
import { quantizeMatrix } from '../../src/core/quant/uniform.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import { matmulScratchBytes } from '../../src/gpu/matmul-quant.ts';
import type { Recorder } from '../../src/gpu/recorder.ts';
import { uploadLinear, type GpuWeight } from '../../src/gpu/weights.ts';
import { expectClose, randomF32, read, rng, run, upload, zeros } from './setup-device.ts';

export const TAIL = -777; // fills buffer space past the output
/** The f32 tests' bound: f32 rounding of a K-term sum grows like sqrt(K) ulp. */
export const tol = (K: number, xScale = 1) => ({ atol: 1e-5 * Math.sqrt(K) * xScale, rtol: 1e-4 });

/** (M, N, K): M ∈ {1, 3, 17}; odd N; K with ragged words, chunks and groups. */
export const SHAPES: [number, number, number][] = [
  [1, 7, 32],
  [1, 33, 172],
  [1, 172, 200],
  [1, 1, 96],
  [3, 7, 64],
  [3, 172, 96],
  [3, 33, 172],
  [17, 33, 200],
  [17, 1, 172],
  [17, 7, 32],
];

export interface CaseOptions {
  prologue?: 'rmsnorm' | 'swiglu';
  accumulate?: boolean;
  xScale?: number; // x uniform in [−xScale, xScale)
  x?: Float32Array; // explicit x (M, K) (plain prologue only)
  tolerance?: { atol: number; rtol: number };
  seed?: number;
}

/** GPU matmul of `w` (already uploaded) vs linear() on the tensors `parts` stacked row-wise. */
export async function checkMatmul(
  ctx: GpuContext,
  parts: readonly Tensor[],
  w: GpuWeight,
  M: number,
  o: CaseOptions = {},
): Promise<Float32Array> {
  const K = w.k;
  const N = w.n;
  const rand = rng(o.seed ?? M * 7919 + N * 131 + K);
  const xScale = o.xScale ?? 1;
  const xCols = o.prologue === 'swiglu' ? 2 * K : K;
  const xRows = o.prologue === 'rmsnorm' ? 2 : M; // rmsnorm: x at an offset (the second row)
  const x = o.x ?? randomF32(rand, xRows * xCols, xScale);
  const gNorm = randomF32(rand, K).map((v) => 1 + 0.5 * v);
  const base = randomF32(rand, M * N);

  // x̂ as the GEMV's prologue computes it, then the twin per part.
  let xh = x;
  if (o.prologue === 'rmsnorm') {
    xh = new Float32Array(K);
    ops.rmsnorm(xh, x.subarray(K), gNorm, 1, K, 1e-5);
  } else if (o.prologue === 'swiglu') {
    xh = new Float32Array(K);
    ops.siluMul(xh, x.subarray(0, K), x.subarray(K), K);
  }
  const want = new Float32Array(M * N);
  let nOff = 0;
  for (const t of parts) {
    const n = t.shape[0];
    const y = new Float32Array(M * n);
    linear(y, xh, t, M, K, n);
    for (let m = 0; m < M; m++) want.set(y.subarray(m * n, (m + 1) * n), m * N + nOff);
    nOff += n;
  }
  if (o.accumulate) ops.addInPlace(want, base, M * N);

  const out = upload(
    ctx,
    o.accumulate ? Float32Array.from([...base, ...new Array(5).fill(TAIL)]) : new Float32Array(M * N + 5).fill(TAIL),
  );
  const scratchBytes = matmulScratchBytes(w, M);
  const scratch = scratchBytes ? zeros(ctx, scratchBytes / 4, 'scratch') : undefined;
  await run(ctx, (rec: Recorder) =>
    k.matmul(rec, {
      x: upload(ctx, x),
      w,
      out,
      M,
      scratch,
      accumulate: o.accumulate,
      ...(o.prologue === 'rmsnorm'
        ? { xOff: K, prologue: { kind: 'rmsnorm', weight: upload(ctx, gNorm), eps: 1e-5 } }
        : {}),
      ...(o.prologue === 'swiglu' ? { prologue: { kind: 'swiglu' } } : {}),
    }),
  );
  const got = await read(ctx, out, M * N + 5);
  const what = `M=${M} N=${N} K=${K}${o.prologue ? ` ${o.prologue}` : ''}${o.accumulate ? ' +acc' : ''}`;
  // x̂ after RMSNorm reaches ~sqrt(K)·|g|; after SwiGLU ~|x|²: the bound scales with it.
  const scale = o.prologue === 'rmsnorm' ? Math.sqrt(K) * 1.5 : o.prologue === 'swiglu' ? xScale * xScale : xScale;
  expectClose(got.subarray(0, M * N), want, o.tolerance ?? tol(K, scale), what);
  expect([...got.subarray(M * N)], `${what}: values past the output`).toEqual(new Array(5).fill(TAIL));
  return got.subarray(0, M * N);
}

/** Uploads one tensor and checks it (the common case). */
export const checkTensor = (ctx: GpuContext, t: Tensor, M: number, o: CaseOptions = {}): Promise<Float32Array> =>
  checkMatmul(ctx, [t], uploadLinear(ctx, [t], 'w'), M, o);

/**
 * A GPTQ act-order style uniform tensor: columns quantized in a random order `perm` with groups
 * of G consecutive permuted columns, so that gIdx[c] (the group of column c) is not monotonic.
 */
export function actOrderTensor(
  w: Float32Array,
  N: number,
  K: number,
  o: { bits: 2 | 3 | 4 | 8; group: number; sym: boolean; scaleType: 'f32' | 'f16'; seed: number },
): Tensor {
  const rand = rng(o.seed);
  const perm = Array.from({ length: K }, (_, i) => i);
  for (let i = K - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const wp = new Float32Array(N * K);
  for (let r = 0; r < N; r++) for (let j = 0; j < K; j++) wp[r * K + j] = w[r * K + perm[j]];
  const q = quantizeMatrix(wp, N, K, {
    bits: o.bits,
    sym: o.sym,
    granularity: 'group',
    group: o.group,
    f16Scales: o.scaleType === 'f16',
  });
  const codes = new Uint8Array(N * K);
  for (let r = 0; r < N; r++) for (let j = 0; j < K; j++) codes[r * K + perm[j]] = q.codes[r * K + j];
  const gIdx = new Uint32Array(K);
  for (let j = 0; j < K; j++) gIdx[perm[j]] = Math.floor(j / q.group);
  return packUniform({ ...q, codes }, o.scaleType, gIdx);
}
