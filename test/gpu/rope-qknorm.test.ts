// rope_f32 with the model's own inverse frequencies (llama3 / linear RoPE scaling) and with
// Qwen3's per-head q/k RMSNorm fused in (QK_NORM), alone and after Qwen2 biases (BIAS), vs the
// CPU twins in the order core/model/forward.ts applies them: ops.addRowBias → ops.rmsnorm on
// rows of hs (q weights for q heads, k weights for k heads) → ops.rope with the same
// ropeInvFreqFor table. Odd head counts, head sizes whose hs/2 is not a power of two (3, 5, 9
// pairs), one pair per thread and two (hs 256), decode and prefill, positions past a short
// original_max_position_embeddings. Same tolerance as the plain rope test; cache rows outside
// the step untouched; v copied (biased, never normed).
import { beforeAll, describe, expect, it } from 'vitest';
import type { RopeScaling } from '../../src/core/model/model.ts';
import * as ops from '../../src/core/model/ops.ts';
import { ropeInvFreqFor } from '../../src/core/model/rope.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import { expectClose, gpuContext, randomF32, read, rng, run, upload } from './setup-device.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

const SENTINEL = 12345;
const TOL = { atol: 1e-6, rtol: 1e-5 }; // the rope test's: ~1 ulp of |v| after f32 rotation
const LLAMA3: RopeScaling = {
  type: 'llama3',
  factor: 32,
  lowFreqFactor: 1,
  highFreqFactor: 2,
  originalMaxPositions: 16,
};
const LINEAR: RopeScaling = { type: 'linear', factor: 4 };

interface Case {
  M: number;
  pos0: number;
  nH: number;
  nKv: number;
  hs: number;
  style: 'interleaved' | 'half';
  theta: number;
  scaling?: RopeScaling;
  qkNorm: boolean;
  bias: boolean;
}

async function check(c: Case): Promise<void> {
  const { M, pos0, nH, nKv, hs, style } = c;
  const seqLen = pos0 + M + 2;
  const qDim = nH * hs;
  const kvd = nKv * hs;
  const stride = qDim + 2 * kvd + 3; // qkv as a wider row
  const eps = 1e-6;
  const rand = rng(M * 131 + pos0 * 7 + hs + nH);
  const qkv = randomF32(rand, M * stride, 2);
  const bias = randomF32(rand, stride, 0.5);
  const norm = Float32Array.from(randomF32(rand, 2 * hs, 0.3), (v) => 1 + v); // q;k weights
  const invFreq = ropeInvFreqFor(hs, c.theta, c.scaling);

  // The CPU twins, in forward.ts order.
  const cols = (off: number, w: number) => {
    const out = new Float32Array(M * w);
    for (let m = 0; m < M; m++) out.set(qkv.subarray(m * stride + off, m * stride + off + w), m * w);
    if (c.bias) ops.addRowBias(out, bias.subarray(off, off + w), M, w);
    return out;
  };
  const q = cols(0, qDim);
  const kk = cols(qDim, kvd);
  const v = cols(qDim + kvd, kvd);
  if (c.qkNorm) {
    ops.rmsnorm(q, q, norm.subarray(0, hs), M * nH, hs, eps);
    ops.rmsnorm(kk, kk, norm.subarray(hs), M * nKv, hs, eps);
  }
  ops.rope(q, M, nH, hs, pos0, c.theta, style, invFreq);
  ops.rope(kk, M, nKv, hs, pos0, c.theta, style, invFreq);

  const qkvBuf = upload(ctx, qkv);
  const kc = upload(ctx, new Float32Array(seqLen * kvd).fill(SENTINEL));
  const vc = upload(ctx, new Float32Array(seqLen * kvd).fill(SENTINEL));
  await run(ctx, (rec) =>
    k.rope(rec, {
      qkv: qkvBuf,
      kcache: kc,
      vcache: vc,
      table: upload(ctx, k.ropeTableOf(seqLen, invFreq)),
      M,
      pos0,
      nHeads: nH,
      nKv,
      hs,
      stride,
      kOff: qDim,
      vOff: qDim + kvd,
      style,
      bias: c.bias ? upload(ctx, bias) : undefined,
      qkNorm: c.qkNorm ? { weight: upload(ctx, norm), eps } : undefined,
    }),
  );
  const got = await read(ctx, qkvBuf, M * stride);
  const gotQ = new Float32Array(M * qDim);
  for (let m = 0; m < M; m++) {
    gotQ.set(got.subarray(m * stride, m * stride + qDim), m * qDim);
    // k, v and the padding columns of qkv are left as they were
    expect(got.subarray(m * stride + qDim, (m + 1) * stride)).toEqual(
      qkv.subarray(m * stride + qDim, (m + 1) * stride),
    );
  }
  expectClose(gotQ, q, TOL, 'q');
  const kAll = await read(ctx, kc, seqLen * kvd);
  const vAll = await read(ctx, vc, seqLen * kvd);
  expectClose(kAll.subarray(pos0 * kvd, (pos0 + M) * kvd), kk, TOL, 'k cache rows');
  expect(vAll.subarray(pos0 * kvd, (pos0 + M) * kvd)).toEqual(v);
  const untouched = (a: Float32Array) =>
    [...a.subarray(0, pos0 * kvd), ...a.subarray((pos0 + M) * kvd)].every((x) => x === SENTINEL);
  expect(untouched(kAll), 'k cache outside the step').toBe(true);
  expect(untouched(vAll), 'v cache outside the step').toBe(true);
}

// [M, pos0, nHeads, nKv, hs]
const SHAPES: [number, number, number, number, number][] = [
  [1, 0, 1, 1, 2],
  [1, 37, 3, 1, 6],
  [5, 20, 5, 5, 10],
  [7, 3, 6, 2, 18],
  [1, 300, 16, 8, 128],
  [9, 40, 2, 1, 256],
];

describe('rope_f32 + per-head q/k RMSNorm (QK_NORM) = ops.rmsnorm then ops.rope', () => {
  it.each(SHAPES.flatMap((s) => (['half', 'interleaved'] as const).map((style) => [...s, style] as const)))(
    'M=%i pos0=%i heads=%i kv=%i hs=%i %s',
    (M, pos0, nH, nKv, hs, style) => check({ M, pos0, nH, nKv, hs, style, theta: 1e6, qkNorm: true, bias: false }),
  );

  it.each(SHAPES.slice(1, 4))(
    'after the attention biases (BIAS + QK_NORM): M=%i pos0=%i heads=%i kv=%i hs=%i',
    (M, pos0, nH, nKv, hs) => check({ M, pos0, nH, nKv, hs, style: 'half', theta: 1e4, qkNorm: true, bias: true }),
  );

  it('large raw q/k values are normed, not overflowed (|v| up to 3e4)', async () => {
    // The sum of squares of 64 values up to 3e4 is ~2e10: fine in f32; the normed values are O(1).
    const rand = rng(9);
    const hs = 64;
    const qkv = randomF32(rand, 3 * hs, 3e4);
    const norm = new Float32Array(2 * hs).fill(1);
    const kc = upload(ctx, new Float32Array(hs));
    const vc = upload(ctx, new Float32Array(hs));
    const buf = upload(ctx, qkv);
    await run(ctx, (rec) =>
      k.rope(rec, {
        qkv: buf,
        kcache: kc,
        vcache: vc,
        table: upload(ctx, k.ropeTableOf(1, ropeInvFreqFor(hs, 1e4))),
        M: 1,
        pos0: 0,
        nHeads: 1,
        nKv: 1,
        hs,
        stride: 3 * hs,
        kOff: hs,
        vOff: 2 * hs,
        style: 'half',
        qkNorm: { weight: upload(ctx, norm), eps: 1e-6 },
      }),
    );
    const q = qkv.slice(0, hs);
    ops.rmsnorm(q, q, norm.subarray(0, hs), 1, hs, 1e-6);
    expectClose(await read(ctx, buf, hs), q, TOL, 'q at position 0 (no rotation)');
  });
});

describe('rope_f32 with scaled inverse frequencies (ropeTableOf(ropeInvFreqFor(..., scaling)))', () => {
  // Positions past L = 16: llama3's three bands (kept, blended, scaled) all turn; linear divides.
  it.each([
    ['llama3', 64, 2, 32, 'half', LLAMA3],
    ['llama3', 1, 500, 64, 'interleaved', LLAMA3],
    ['linear', 9, 100, 16, 'half', LINEAR],
  ] as const)('%s: M=%i pos0=%i hs=%i %s', (_n, M, pos0, hs, style, scaling) =>
    check({ M, pos0, nH: 3, nKv: 1, hs, style, theta: 5e5, scaling, qkNorm: false, bias: false }),
  );

  it('with QK_NORM and llama3 together (hs 32, prefill across L)', () =>
    check({
      M: 30,
      pos0: 0,
      nH: 4,
      nKv: 2,
      hs: 32,
      style: 'half',
      theta: 5e5,
      scaling: LLAMA3,
      qkNorm: true,
      bias: false,
    }));

  it('ropeTable (theta, hs) is ropeTableOf the plain inverse frequencies, bit for bit', () => {
    for (const hs of [8, 64]) {
      const plain = k.ropeTable(40, hs, 10000);
      expect(plain).toEqual(k.ropeTableOf(40, ropeInvFreqFor(hs, 10000)));
      // and equals cos/sin of pos · theta^(-2i/hs) as the CPU twin computes it without a table
      for (let pos = 0; pos < 40; pos++)
        for (let i = 0; i < hs / 2; i++) {
          const a = pos * (1 / Math.pow(10000, (2 * i) / hs));
          expect(plain[(pos * (hs / 2) + i) * 2]).toBe(Math.fround(Math.cos(a)));
          expect(plain[(pos * (hs / 2) + i) * 2 + 1]).toBe(Math.fround(Math.sin(a)));
        }
    }
  });
});
