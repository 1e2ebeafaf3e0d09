// RoPE (+ KV-cache write) and causal GQA attention vs ops.rope / ops.attention.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/core/model/ops.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import { expectClose, gpuContext, randomF32, read, rng, run, upload } from './setup-device.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

const SENTINEL = 12345; // cache rows a kernel must not touch / must not read

describe('rope_f32 (q in place, k and v into the cache)', () => {
  // [M, pos0, nHeads, nKv, hs]
  const CASES: [number, number, number, number, number][] = [
    [1, 0, 1, 1, 2],
    [1, 5, 8, 4, 8],
    [9, 0, 6, 2, 8],
    [7, 33, 4, 4, 16],
    [33, 100, 8, 2, 64],
    [3, 509, 2, 1, 128],
  ];
  // Rotation in f32 of f64-precomputed (cos, sin): ~1 ulp of |v| → atol 1e-6, rtol 1e-5.
  it.each(CASES.flatMap((c) => (['interleaved', 'half'] as const).map((s) => [...c, s] as const)))(
    'M=%i pos0=%i heads=%i kv=%i hs=%i %s',
    async (M, pos0, nH, nKv, hs, style) => {
      const seqLen = 512;
      const theta = 10000;
      const qDim = nH * hs;
      const kvd = nKv * hs;
      const stride = qDim + 2 * kvd;
      const rand = rng(M * 97 + pos0 + hs);
      const qkv = randomF32(rand, M * stride, 2);
      const q = new Float32Array(M * qDim);
      const kk = new Float32Array(M * kvd);
      const v = new Float32Array(M * kvd);
      for (let m = 0; m < M; m++) {
        q.set(qkv.subarray(m * stride, m * stride + qDim), m * qDim);
        kk.set(qkv.subarray(m * stride + qDim, m * stride + qDim + kvd), m * kvd);
        v.set(qkv.subarray(m * stride + qDim + kvd, (m + 1) * stride), m * kvd);
      }
      ops.rope(q, M, nH, hs, pos0, theta, style);
      ops.rope(kk, M, nKv, hs, pos0, theta, style);

      const qkvBuf = upload(ctx, qkv);
      const kc = upload(ctx, new Float32Array(seqLen * kvd).fill(SENTINEL));
      const vc = upload(ctx, new Float32Array(seqLen * kvd).fill(SENTINEL));
      const table = upload(ctx, k.ropeTable(seqLen, hs, theta));
      await run(ctx, (rec) =>
        k.rope(rec, {
          qkv: qkvBuf,
          kcache: kc,
          vcache: vc,
          table,
          M,
          pos0,
          nHeads: nH,
          nKv,
          hs,
          stride,
          kOff: qDim,
          vOff: qDim + kvd,
          style,
        }),
      );
      const got = await read(ctx, qkvBuf, M * stride);
      const gotQ = new Float32Array(M * qDim);
      for (let m = 0; m < M; m++) gotQ.set(got.subarray(m * stride, m * stride + qDim), m * qDim);
      const tol = { atol: 1e-6, rtol: 1e-5 };
      expectClose(gotQ, q, tol, 'q');
      // k and v columns of qkv are left as they were
      for (let m = 0; m < M; m++)
        expect(got.subarray(m * stride + qDim, (m + 1) * stride)).toEqual(
          qkv.subarray(m * stride + qDim, (m + 1) * stride),
        );
      const kAll = await read(ctx, kc, seqLen * kvd);
      const vAll = await read(ctx, vc, seqLen * kvd);
      expectClose(kAll.subarray(pos0 * kvd, (pos0 + M) * kvd), kk, tol, 'k cache rows');
      expect(vAll.subarray(pos0 * kvd, (pos0 + M) * kvd)).toEqual(v);
      const untouched = (a: Float32Array) =>
        [...a.subarray(0, pos0 * kvd), ...a.subarray((pos0 + M) * kvd)].every((x) => x === SENTINEL);
      expect(untouched(kAll), 'k cache outside pos0..pos0+M-1').toBe(true);
      expect(untouched(vAll), 'v cache outside pos0..pos0+M-1').toBe(true);
    },
  );
});

describe('attention_f32 (causal, GQA, online softmax)', () => {
  // [M, pos0, nHeads, nKv, hs]: groups 1, 2, 4; decode and prefill; lengths across the
  // 64-key chunk boundary; head sizes below, at and above the 64-thread workgroup.
  const CASES: [number, number, number, number, number][] = [
    [1, 0, 1, 1, 2],
    [1, 0, 4, 4, 8],
    [1, 5, 4, 2, 8],
    [1, 63, 8, 2, 16],
    [1, 64, 8, 4, 16],
    [1, 511, 8, 4, 8],
    [9, 0, 6, 2, 8],
    [7, 3, 4, 1, 6],
    [33, 40, 8, 8, 64],
    [64, 0, 2, 1, 96],
    [5, 130, 4, 2, 128],
    [70, 0, 4, 4, 256],
    [2, 1000, 2, 2, 32],
  ];
  // f32 scores and exp vs f64 on the CPU: atol 1e-5, rtol 1e-4 (outputs are convex mixes of v in [-1, 1)).
  it.each(CASES)('M=%i pos0=%i heads=%i kv=%i hs=%i', async (M, pos0, nH, nKv, hs) => {
    const len = pos0 + M;
    const seqLen = len + 3; // rows past the last position hold sentinels (causality check)
    const kvd = nKv * hs;
    const qStride = nH * hs + 5; // q as the front of a wider row, as in qkv
    const rand = rng(M * 7919 + pos0 * 31 + nH * 7 + hs);
    const qRows = randomF32(rand, M * nH * hs, 3); // larger scores: peaky softmax
    const kc = new Float32Array(seqLen * kvd).fill(SENTINEL);
    const vc = new Float32Array(seqLen * kvd).fill(SENTINEL);
    kc.set(randomF32(rand, len * kvd));
    vc.set(randomF32(rand, len * kvd));
    const want = new Float32Array(M * nH * hs);
    ops.attention(want, qRows, kc, vc, M, pos0, nH, nKv, hs);

    const qPadded = new Float32Array(M * qStride).fill(SENTINEL);
    for (let m = 0; m < M; m++) qPadded.set(qRows.subarray(m * nH * hs, (m + 1) * nH * hs), m * qStride);
    const out = upload(ctx, new Float32Array(M * nH * hs));
    await run(ctx, (rec) =>
      k.attention(rec, {
        q: upload(ctx, qPadded),
        qStride,
        kcache: upload(ctx, kc),
        vcache: upload(ctx, vc),
        out,
        M,
        pos0,
        nHeads: nH,
        nKv,
        hs,
      }),
    );
    expectClose(await read(ctx, out, M * nH * hs), want, { atol: 1e-5, rtol: 1e-4 }, `attention M=${M} pos0=${pos0}`);
  });

  it('is stable for very large scores (no overflow to inf/NaN)', async () => {
    const [M, pos0, nH, nKv, hs] = [3, 100, 2, 1, 16];
    const len = pos0 + M;
    const rand = rng(3);
    const q = randomF32(rand, M * nH * hs, 200); // scores in the hundreds
    const kc = randomF32(rand, len * nKv * hs);
    const vc = randomF32(rand, len * nKv * hs);
    const want = new Float32Array(M * nH * hs);
    ops.attention(want, q, kc, vc, M, pos0, nH, nKv, hs);
    const out = upload(ctx, new Float32Array(M * nH * hs));
    await run(ctx, (rec) =>
      k.attention(rec, {
        q: upload(ctx, q),
        qStride: nH * hs,
        kcache: upload(ctx, kc),
        vcache: upload(ctx, vc),
        out,
        M,
        pos0,
        nHeads: nH,
        nKv,
        hs,
      }),
    );
    const got = await read(ctx, out, M * nH * hs);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, want, { atol: 1e-4, rtol: 1e-3 }, 'attention large scores');
  });
});
