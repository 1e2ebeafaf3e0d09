// Kernels for weights split across bindings and for attention biases, against their CPU twins:
// - embed_f32 on row parts of a table (ops.embedRows; all parts together = ops.embed, exact);
// - matmuls on weights uploaded in row parts by uploadLinear with a small cap (f32 GEMV with
//   its prologues and residual epilogue, f32 GEMM; q4 asym f16 scales, q8 with gIdx, nf4,
//   LLM.int8): equal to ops.matmul / linear() within the matmul bound, and bit-identical to the
//   same weight unsplit (each output is computed by the same kernel over the same K);
// - rope_f32 with BIAS (ops.addRowBias then ops.rope; the KV-cache write) on odd shapes.
import { beforeAll, describe, expect, it } from 'vitest';
import { linear } from '../../src/core/model/linear.ts';
import { packInt8Rows, quantizeRowsInt8 } from '../../src/core/quant/llmint8.ts';
import { rowsPerPart } from '../../src/core/plan/memory-plan.ts';
import { runLayout } from '../../src/core/plan/model-tensors.ts';
import * as ops from '../../src/core/model/ops.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor, type Tensor } from '../../src/core/tensor.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import { uploadLinear, uploadTable, type GpuWeight } from '../../src/gpu/weights.ts';
import { actOrderTensor } from './matmul-quant-cases.ts';
import { expectClose, gpuContext, randomF32, read, rng, run, upload } from './setup-device.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

const SENTINEL = -777;
const partsOf = (w: GpuWeight) => (w.format === 'stack' ? w.parts : [w]);

describe('embed_f32 on a table split by rows', () => {
  // [vocab, dim, cap bytes]: parts of ⌊cap / (dim·4)⌋ rows, the last one shorter.
  const CASES: [number, number, number][] = [
    [97, 7, 1000],
    [33, 1, 40],
    [512, 64, 50_000],
    [5, 3, 12],
  ];
  it.each(CASES)('vocab %i dim %i, cap %i bytes', async (vocab, dim, cap) => {
    const rand = rng(vocab + dim);
    const table = randomF32(rand, vocab * dim);
    const ids = [0, vocab - 1, ...Array.from({ length: 9 }, () => Math.floor(rand() * vocab)), 0];
    const w = uploadTable(ctx, f32Tensor([vocab, dim], table), 'emb', cap);
    const rows = Math.floor(cap / (dim * 4));
    expect(partsOf(w).map((p) => p.n)).toEqual(
      Array.from({ length: Math.ceil(vocab / rows) }, (_, i) => Math.min(rows, vocab - i * rows)),
    );
    const M = ids.length;
    const tokens = upload(ctx, Uint32Array.from([5, ...ids])); // tokOff 1
    const want = new Float32Array(M * dim);
    ops.embed(want, table, ids, dim);

    // One part alone writes only its rows (twin: ops.embedRows); the others keep their values.
    const last = partsOf(w).at(-1)!;
    const row0 = vocab - last.n;
    const one = upload(ctx, new Float32Array(M * dim).fill(SENTINEL));
    await run(ctx, (rec) =>
      k.embed(rec, {
        tokens,
        tokOff: 1,
        table: (last as { data: GPUBuffer }).data,
        out: one,
        M,
        dim,
        vocab,
        row0,
        rows: last.n,
      }),
    );
    const wantOne = new Float32Array(M * dim).fill(SENTINEL);
    ops.embedRows(wantOne, table.subarray(row0 * dim), ids, dim, row0, last.n);
    expect(await read(ctx, one, M * dim)).toEqual(wantOne);

    // Every part (embedTable without ids), and only the parts the ids need: both = ops.embed.
    for (const pick of [undefined, ids]) {
      const out = upload(ctx, new Float32Array(M * dim).fill(SENTINEL));
      const rec = await run(ctx, (r) => k.embedTable(r, { tokens, tokOff: 1, ids: pick, table: w, out, M }));
      expect(await read(ctx, out, M * dim)).toEqual(want);
      if (!pick) expect(rec.counters.dispatches).toBe(partsOf(w).length);
    }
    // A decode step (one id) dispatches only the part that holds it.
    const out1 = upload(ctx, new Float32Array(dim));
    const rec = await run(ctx, (r) =>
      k.embedTable(r, { tokens, tokOff: 2, ids: [vocab - 1], table: w, out: out1, M: 1 }),
    );
    expect(rec.counters.dispatches).toBe(1);
    expect(await read(ctx, out1, dim)).toEqual(table.subarray((vocab - 1) * dim));
  });
});

/** A weight of each packed kind, (N, K). */
function weightOf(kind: string, N: number, K: number, seed: number): Tensor {
  const rand = rng(seed);
  const f = f32Tensor([N, K], randomF32(rand, N * K, Math.sqrt(3 / K)));
  switch (kind) {
    case 'f32':
      return f;
    case 'q4 g16 asym f16':
      return quantizeTensor(f, { format: 'q4', group: 16, sym: false, scaleType: 'f16' });
    case 'q8 g8 act-order':
      return actOrderTensor(f.data, N, K, { bits: 8, group: 8, sym: true, scaleType: 'f32', seed });
    case 'nf4 block 64':
      return quantizeTensor(f, { format: 'nf4', group: 64 });
    case 'llmint8':
      return packInt8Rows(quantizeRowsInt8(f.data, N, K), N, K, 0.5);
    default:
      throw new Error(kind);
  }
}

describe('matmuls on weights split by rows (uploadLinear with a small cap)', () => {
  // [kind, N, K, cap]: 2–5 parts with a shorter last one.
  const CASES: [string, number, number, number][] = [
    ['f32', 97, 48, 5000],
    ['f32', 33, 7, 300],
    ['f32', 172, 64, 20_000],
    ['q4 g16 asym f16', 97, 48, 1000],
    ['q8 g8 act-order', 61, 40, 1000],
    ['nf4 block 64', 90, 48, 800],
    ['llmint8', 77, 33, 1000],
  ];
  it.each(CASES)('%s N=%i K=%i cap %i', async (kind, N, K, cap) => {
    const t = weightOf(kind, N, K, N * 7 + K);
    if (kind === 'q8 g8 act-order') expect((t as { buffers: { gIdx?: Uint32Array } }).buffers.gIdx).toBeDefined();
    const layout = runLayout([t]);
    const rows = rowsPerPart(
      { bytes: layout.buffers.reduce((a, b) => a + b, 0), rows: N, rowAlign: layout.rowAlign },
      cap,
    );
    const split = uploadLinear(ctx, [t], `split-${kind}`, cap);
    const whole = uploadLinear(ctx, [t], `whole-${kind}`);
    const parts = partsOf(split);
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(parts.length).toBeLessThanOrEqual(5);
    expect(parts.map((p) => p.n)).toEqual(
      Array.from({ length: Math.ceil(N / rows) }, (_, i) => Math.min(rows, N - i * rows)),
    );
    expect(N % rows).not.toBe(0); // a shorter last part
    if (kind.startsWith('q8')) expect(new Set(parts.map((p) => (p as { gIdx?: GPUBuffer }).gIdx)).size).toBe(1); // one shared gIdx buffer

    const rand = rng(N + K);
    const tolOf = (scale: number) => ({ atol: 1e-5 * Math.sqrt(K) * scale, rtol: 1e-4 });
    // M = 1 with the RMSNorm prologue and the residual epilogue; M = 1 SwiGLU; M = 5 and 33 (GEMM) with accumulate.
    for (const [M, prologue] of [
      [1, 'rmsnorm'],
      [1, 'swiglu'],
      [5, 'none'],
      [33, 'none'],
    ] as const) {
      const xCols = prologue === 'swiglu' ? 2 * K : K;
      const x = randomF32(rand, M * xCols, 1);
      const g = randomF32(rand, K, 1);
      const base = randomF32(rand, M * N, 1);
      let xhat = x;
      if (prologue === 'rmsnorm') {
        xhat = new Float32Array(K);
        ops.rmsnorm(xhat, x, g, 1, K, 1e-5);
      } else if (prologue === 'swiglu') {
        xhat = new Float32Array(K);
        ops.siluMul(xhat, x.subarray(0, K), x.subarray(K), K);
      }
      const want = new Float32Array(M * N);
      linear(want, xhat, t, M, K, N);
      ops.addInPlace(want, base, M * N);
      const outs: Float32Array[] = [];
      for (const w of [split, whole]) {
        const out = upload(ctx, Float32Array.from([...base, SENTINEL, SENTINEL]));
        const scratch = upload(ctx, new Float32Array(4096));
        await run(ctx, (rec) =>
          k.matmul(rec, {
            x: upload(ctx, x),
            w,
            out,
            M,
            accumulate: true,
            scratch,
            prologue:
              prologue === 'rmsnorm'
                ? { kind: 'rmsnorm', weight: upload(ctx, g), eps: 1e-5 }
                : prologue === 'swiglu'
                  ? { kind: 'swiglu' }
                  : undefined,
          }),
        );
        const got = await read(ctx, out, M * N + 2);
        expect([...got.subarray(M * N)]).toEqual([SENTINEL, SENTINEL]);
        outs.push(got.subarray(0, M * N));
      }
      const what = `${kind} M=${M} ${prologue}`;
      expectClose(outs[0], want, tolOf(prologue === 'rmsnorm' ? Math.sqrt(K) * 1.5 : 1), what);
      expect(outs[0], `${what}: split = unsplit`).toEqual(outs[1]);
    }
  });

  it('a row larger than the cap is too-large, naming the weight', () => {
    const t = weightOf('f32', 9, 40, 1);
    expect(() => uploadLinear(ctx, [t], 'l0.wo', 100)).toThrow(
      expect.objectContaining({ code: 'too-large', message: expect.stringMatching(/l0\.wo: one row takes 160 bytes/) }),
    );
    const q = weightOf('q4 g16 asym f16', 9, 48, 2); // 4 rows is the smallest split of an asym q4 g16 row (3 groups)
    expect(runLayout([q]).rowAlign).toBe(4);
    expect(() => uploadLinear(ctx, [q], 'l0.w2', 80)).toThrow(
      expect.objectContaining({
        code: 'too-large',
        message: expect.stringMatching(/4 rows \(the smallest split of q4\)/),
      }),
    );
  });
});

describe('rope_f32 with attention biases (BIAS)', () => {
  // [M, pos0, nHeads, nKv, hs]
  const CASES: [number, number, number, number, number][] = [
    [1, 0, 1, 1, 2],
    [1, 7, 6, 2, 8],
    [9, 0, 14, 2, 64],
    [5, 33, 3, 3, 6],
    [17, 100, 8, 4, 16],
  ];
  it.each(CASES.flatMap((c) => (['interleaved', 'half'] as const).map((s) => [...c, s] as const)))(
    'M=%i pos0=%i heads=%i kv=%i hs=%i %s',
    async (M, pos0, nH, nKv, hs, style) => {
      const seqLen = pos0 + M + 3;
      const qDim = nH * hs;
      const kvd = nKv * hs;
      const stride = qDim + 2 * kvd + 3; // wider than q;k;v, as a padded row could be
      const rand = rng(M * 31 + pos0 + nH + hs);
      const qkv = randomF32(rand, M * stride, 2);
      const bias = randomF32(rand, stride, 1);
      // Twin: q, k, v out of the rows, + bias, then rope on q and k.
      const q = new Float32Array(M * qDim);
      const kk = new Float32Array(M * kvd);
      const v = new Float32Array(M * kvd);
      for (let m = 0; m < M; m++) {
        q.set(qkv.subarray(m * stride, m * stride + qDim), m * qDim);
        kk.set(qkv.subarray(m * stride + qDim, m * stride + qDim + kvd), m * kvd);
        v.set(qkv.subarray(m * stride + qDim + kvd, m * stride + qDim + 2 * kvd), m * kvd);
      }
      ops.addRowBias(q, bias.subarray(0, qDim), M, qDim);
      ops.addRowBias(kk, bias.subarray(qDim, qDim + kvd), M, kvd);
      ops.addRowBias(v, bias.subarray(qDim + kvd, qDim + 2 * kvd), M, kvd);
      ops.rope(q, M, nH, hs, pos0, 10000, style);
      ops.rope(kk, M, nKv, hs, pos0, 10000, style);

      const qkvBuf = upload(ctx, qkv);
      const kc = upload(ctx, new Float32Array(seqLen * kvd).fill(SENTINEL));
      const vc = upload(ctx, new Float32Array(seqLen * kvd).fill(SENTINEL));
      await run(ctx, (rec) =>
        k.rope(rec, {
          qkv: qkvBuf,
          kcache: kc,
          vcache: vc,
          table: upload(ctx, k.ropeTable(seqLen, hs, 10000)),
          bias: upload(ctx, bias),
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
      const tol = { atol: 1e-6, rtol: 1e-5 };
      const got = await read(ctx, qkvBuf, M * stride);
      const gotQ = new Float32Array(M * qDim);
      for (let m = 0; m < M; m++) {
        gotQ.set(got.subarray(m * stride, m * stride + qDim), m * qDim);
        // k, v and padding columns of qkv are left as they were (unbiased)
        expect(got.subarray(m * stride + qDim, (m + 1) * stride)).toEqual(
          qkv.subarray(m * stride + qDim, (m + 1) * stride),
        );
      }
      expectClose(gotQ, q, tol, 'q');
      const kAll = await read(ctx, kc, seqLen * kvd);
      const vAll = await read(ctx, vc, seqLen * kvd);
      expectClose(kAll.subarray(pos0 * kvd, (pos0 + M) * kvd), kk, tol, 'k cache rows');
      expect(vAll.subarray(pos0 * kvd, (pos0 + M) * kvd)).toEqual(v); // one f32 add, as the twin
      const untouched = (a: Float32Array) =>
        [...a.subarray(0, pos0 * kvd), ...a.subarray((pos0 + M) * kvd)].every((x) => x === SENTINEL);
      expect(untouched(kAll) && untouched(vAll), 'cache rows outside the step').toBe(true);
    },
  );
});
