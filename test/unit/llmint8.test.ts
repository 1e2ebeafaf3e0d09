// LLM.int8 and SmoothQuant twins against fp32 matmul (src/core/model/ops.ts) on seeded data.
import { describe, expect, it } from 'vitest';
import { matmulInt8Mixed, quantizeRowsInt8 } from '../../src/core/quant/llmint8.ts';
import { matmul } from '../../src/core/model/ops.ts';
import { foldSmoothing, smoothingScales } from '../../src/core/quant/smoothquant.ts';
import { seededRandom } from './helpers.ts';

const rnd = seededRandom(9);
const randn = () => {
  const u = Math.max(rnd(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
};
const M = 6,
  K = 96,
  N = 40;
const x = Float32Array.from({ length: M * K }, () => randn());
const w = Float32Array.from({ length: N * K }, () => randn() * 0.05);
const relErr = (a: Float32Array, b: Float32Array) => {
  let e = 0,
    s = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(e / s);
};

describe('LLM.int8()', () => {
  const ref = new Float32Array(M * N);
  const xo = x.slice();
  for (let m = 0; m < M; m++) xo[m * K + 17] = 60 * (m % 2 ? 1 : -1); // an injected outlier feature
  matmul(ref, xo, w, M, K, N);
  const wq = quantizeRowsInt8(w, N, K);

  it('quantizes weights per row with absmax: the largest |w| of each row maps to ±127', () => {
    for (let n = 0; n < N; n++) {
      let amax = 0,
        qmax = 0;
      for (let k = 0; k < K; k++) {
        amax = Math.max(amax, Math.abs(w[n * K + k]));
        qmax = Math.max(qmax, Math.abs(wq.q[n * K + k]));
      }
      expect(qmax).toBe(127);
      expect(wq.scale[n]).toBeCloseTo(amax / 127, 9);
    }
  });

  it('with an outlier column matches fp32 closely, plain int8 does not', () => {
    const mixed = new Float32Array(M * N);
    const mask = matmulInt8Mixed(mixed, xo, wq, M, K, N, 6.0);
    expect([...mask].flatMap((v, i) => (v ? [i] : []))).toContain(17);
    const plain = new Float32Array(M * N);
    matmulInt8Mixed(plain, xo, wq, M, K, N, Infinity);
    const tolerance = 0.01; // relative L2 error allowed against fp32
    expect(relErr(mixed, ref)).toBeLessThan(tolerance);
    expect(relErr(plain, ref)).toBeGreaterThan(tolerance);
    expect(relErr(plain, ref)).toBeGreaterThan(3 * relErr(mixed, ref));
  });
});

describe('SmoothQuant', () => {
  it('folding leaves norm(x)·Wᵀ unchanged and balances the ranges', () => {
    const norm = Float32Array.from({ length: K }, () => 0.5 + rnd());
    const actMax = new Float32Array(K);
    for (let m = 0; m < M; m++)
      for (let k = 0; k < K; k++) actMax[k] = Math.max(actMax[k], Math.abs(x[m * K + k] * norm[k]));
    const s = smoothingScales(actMax, [{ data: w, rows: N }], 0.5);
    const f = foldSmoothing(norm, [{ data: w, rows: N }], s);
    const a = new Float32Array(M * N),
      b = new Float32Array(M * N);
    matmul(
      a,
      x.map((v, i) => v * norm[i % K]),
      w,
      M,
      K,
      N,
    );
    matmul(
      b,
      x.map((v, i) => v * f.norm[i % K]),
      f.weights[0],
      M,
      K,
      N,
    );
    expect(relErr(b, a)).toBeLessThan(1e-5);
    // With α = 0.5 the smoothed activation max equals the smoothed weight max per channel.
    let wmax = 0;
    for (let n = 0; n < N; n++) wmax = Math.max(wmax, Math.abs(f.weights[0][n * K + 3]));
    expect(actMax[3] / s[3]).toBeCloseTo(wmax, 4);
  });
});
