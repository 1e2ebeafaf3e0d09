// embed, rmsnorm, silu·mul, residual add and argmax kernels vs their CPU twins in src/core/model/ops.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/core/model/ops.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import { expectClose, gpuContext, randomF32, read, rng, run, upload, zeros } from './setup-device.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

const SIZES = [1, 7, 33, 172, 512];

describe('embed_f32', () => {
  it.each([
    [1, 1, 5],
    [7, 33, 97],
    [33, 64, 512],
    [64, 172, 7],
  ])('M=%i dim=%i vocab=%i: exact rows, from a token offset', async (M, dim, vocab) => {
    const rand = rng(M * 1000 + dim);
    const table = randomF32(rand, vocab * dim);
    const tokOff = 3;
    const ids = Array.from({ length: M }, () => Math.floor(rand() * vocab));
    const tokens = new Uint32Array([9, 9, 9, ...ids]);
    const want = new Float32Array(M * dim);
    ops.embed(want, table, ids, dim);
    const out = zeros(ctx, M * dim);
    await run(ctx, (rec) =>
      k.embed(rec, { tokens: upload(ctx, tokens), tokOff, table: upload(ctx, table), out, M, dim, vocab }),
    );
    expect(await read(ctx, out, M * dim)).toEqual(want);
  });
});

describe('rmsnorm_f32', () => {
  // Tree vs sequential sum of squares: a few ulp; 1e-5 relative plus 1e-6 absolute covers it.
  it.each(SIZES.map((dim) => [dim]))('dim=%i over 1, 3 and 33 rows within rtol 1e-5', async (dim) => {
    for (const M of [1, 3, 33]) {
      const rand = rng(dim * 7 + M);
      const x = randomF32(rand, M * dim, 3);
      const w = randomF32(rand, dim);
      const want = new Float32Array(M * dim);
      ops.rmsnorm(want, x, w, M, dim, 1e-5);
      const out = zeros(ctx, M * dim);
      await run(ctx, (rec) => k.rmsnorm(rec, { x: upload(ctx, x), weight: upload(ctx, w), out, M, dim, eps: 1e-5 }));
      expectClose(await read(ctx, out, M * dim), want, { atol: 1e-6, rtol: 1e-5 }, `rmsnorm M=${M} dim=${dim}`);
    }
  });
});

describe('silu_mul_f32', () => {
  it.each([
    [1, 1],
    [1, 172],
    [7, 33],
    [64, 172],
  ])('M=%i H=%i within rtol 1e-5 (GPU exp)', async (M, H) => {
    const rand = rng(M * 31 + H);
    const gate = randomF32(rand, M * H, 6);
    const up = randomF32(rand, M * H, 2);
    const gu = new Float32Array(M * 2 * H); // rows [gate | up], as the fused w1;w3 matmul writes them
    for (let m = 0; m < M; m++) {
      gu.set(gate.subarray(m * H, (m + 1) * H), m * 2 * H);
      gu.set(up.subarray(m * H, (m + 1) * H), m * 2 * H + H);
    }
    const want = new Float32Array(M * H);
    ops.siluMul(want, gate, up, M * H);
    const out = zeros(ctx, M * H);
    await run(ctx, (rec) => k.siluMul(rec, { gu: upload(ctx, gu), out, M, H }));
    expectClose(await read(ctx, out, M * H), want, { atol: 1e-6, rtol: 1e-5 }, `siluMul M=${M} H=${H}`);
  });
});

describe('argmax_f32', () => {
  async function gpuArgmax(x: Float32Array, n: number, off = 0): Promise<number> {
    const out = zeros(ctx, 1);
    await run(ctx, (rec) => k.argmax(rec, { x: upload(ctx, x), n, off, out }));
    const buf = await read(ctx, out, 1);
    return new Uint32Array(buf.buffer)[0];
  }

  it.each([1, 7, 33, 172, 512, 1000, 32000].map((n) => [n]))('n=%i random: equals ops.argmax', async (n) => {
    const x = randomF32(rng(n + 5), n);
    expect(await gpuArgmax(x, n)).toBe(ops.argmax(x));
  });

  it('ties go to the lowest index, across threads and within one thread', async () => {
    const n = 1000;
    for (const idx of [
      [3, 700],
      [0, 256],
      [5, 261, 517],
      [999, 998],
      [256, 512, 768],
    ]) {
      const x = new Float32Array(n).fill(-1);
      for (const i of idx) x[i] = 2.5;
      expect(await gpuArgmax(x, n), `max at ${idx}`).toBe(ops.argmax(x));
      expect(ops.argmax(x)).toBe(Math.min(...idx));
    }
    expect(await gpuArgmax(new Float32Array(300).fill(7), 300)).toBe(0); // all equal
  });

  it('reads the window [off, off + n) and answers relative to off', async () => {
    const rand = rng(77);
    const n = 97;
    const x = randomF32(rand, 3 * n);
    x[0] = 100; // outside the window
    expect(await gpuArgmax(x, n, 2 * n)).toBe(ops.argmax(x, 2 * n, n));
  });
});
