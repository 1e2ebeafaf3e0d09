// Uniform-quantized matmuls on packed weights (q8 / q4 / q3 / q2: matmul_gemv_qn for M = 1,
// matmul_gemm_qn for M > 1) vs the CPU twin linear(), which decodes the same packed data.
// Weights from quantizeTensor (groups per row, 32, 64 ragged, chunk-straddling 4 and 8; sym and
// asym; f32 and f16 scales) and GPTQ act-order tensors with a gIdx permutation; x in [-1, 1).
// Tolerance as the f32 tests: |gpu − cpu| <= 1e-5·√K + 1e-4·|cpu| (the CPU sums in f64).
import { beforeAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { weightBytes } from '../../src/core/quant/format.ts';
import { quantizeTensor, type QuantizeOptions } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor } from '../../src/core/tensor.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import * as k from '../../src/gpu/kernels.ts';
import { uploadLinear, weightBytesByFormat } from '../../src/gpu/weights.ts';
import { SHAPES, actOrderTensor, checkMatmul, checkTensor } from './matmul-quant-cases.ts';
import { gpuContext, randomF32, rng, run, zeros } from './setup-device.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

const randomTensor = (N: number, K: number, seed: number) => f32Tensor([N, K], randomF32(rng(seed), N * K));

const CONFIGS: [string, QuantizeOptions][] = [
  ['q4 g32 asym', { format: 'q4', group: 32 }],
  ['q4 per-row sym', { format: 'q4', sym: true }],
  ['q4 g64 f16 scales (ragged)', { format: 'q4', group: 64, scaleType: 'f16' }],
  ['q4 g4 asym (groups inside a word)', { format: 'q4', group: 4 }],
  ['q8 per-row asym', { format: 'q8' }],
  ['q8 g64 sym f16 (ragged)', { format: 'q8', group: 64, sym: true, scaleType: 'f16' }],
  ['q3 g32 asym', { format: 'q3', group: 32 }],
  ['q3 g8 sym (groups inside a chunk)', { format: 'q3', group: 8, sym: true }],
  ['q2 g64 asym f16 (ragged)', { format: 'q2', group: 64, scaleType: 'f16' }],
  ['q2 per-row sym', { format: 'q2', sym: true }],
];

describe.each(CONFIGS)('%s', (_name, q) => {
  it.each(SHAPES)('M=%i N=%i K=%i', async (M, N, K) => {
    await checkTensor(ctx, quantizeTensor(randomTensor(N, K, N * 31 + K), q), M);
  });
});

describe.each([
  ['q4 g32 asym', 4, 32, false, 'f32'],
  ['q3 g32 sym f16', 3, 32, true, 'f16'],
  ['q8 g64 asym', 8, 64, false, 'f32'],
  ['q2 g16 asym f16', 2, 16, false, 'f16'],
] as const)('act-order gIdx (%s)', (_name, bits, group, sym, scaleType) => {
  it.each([
    [1, 33, 172],
    [1, 7, 200],
    [3, 172, 96],
    [17, 33, 64],
  ] as const)('M=%i N=%i K=%i', async (M, N, K) => {
    const t = actOrderTensor(randomTensor(N, K, K).data, N, K, { bits, group, sym, scaleType, seed: N + K });
    expect(
      t.format !== 'f32' && t.format !== 'f16' && t.format !== 'llmint8' && 'gIdx' in t.buffers && t.buffers.gIdx,
    ).toBeTruthy();
    await checkTensor(ctx, t, M);
  });
});

describe('fused prologues and the residual epilogue (M = 1)', () => {
  const cases: [string, QuantizeOptions][] = [
    ['q4 g32', { format: 'q4', group: 32 }],
    ['q8 per row sym', { format: 'q8', sym: true }],
    ['q3 g32 f16', { format: 'q3', group: 32, scaleType: 'f16' }],
    ['q2 g64', { format: 'q2', group: 64 }],
  ];
  it.each(cases)('%s: RMSNorm prologue (x at an offset) + accumulate', async (_n, q) => {
    await checkTensor(ctx, quantizeTensor(randomTensor(172, 64, 3), q), 1, { prologue: 'rmsnorm', accumulate: true });
    await checkTensor(ctx, quantizeTensor(randomTensor(33, 200, 4), q), 1, { prologue: 'rmsnorm' });
  });
  it.each(cases)('%s: SwiGLU prologue + accumulate', async (_n, q) => {
    await checkTensor(ctx, quantizeTensor(randomTensor(64, 172, 5), q), 1, {
      prologue: 'swiglu',
      accumulate: true,
      xScale: 2,
    });
  });
  it('M > 1 accumulates too', async () => {
    await checkTensor(ctx, quantizeTensor(randomTensor(33, 96, 6), { format: 'q4', group: 32 }), 17, {
      accumulate: true,
    });
  });
});

describe('stacked linears (wq;wk;wv)', () => {
  it('merges q4 parts with f32 / f16 scales and sym / asym into one packed weight', async () => {
    const parts = [
      quantizeTensor(randomTensor(7, 64, 1), { format: 'q4', group: 32 }),
      quantizeTensor(randomTensor(33, 64, 2), { format: 'q4', group: 32, sym: true, scaleType: 'f16' }),
      quantizeTensor(randomTensor(5, 64, 3), { format: 'q4', group: 32, scaleType: 'f16' }),
    ];
    const w = uploadLinear(ctx, parts, 'wqkv');
    expect(w.format).toBe('q4');
    expect(w.n).toBe(45);
    for (const M of [1, 3, 17]) await checkMatmul(ctx, parts, w, M);
    await checkMatmul(ctx, parts, w, 1, { prologue: 'rmsnorm' });
  });

  it('keeps parts with different formats or groups as a stack: one dispatch per part, same output', async () => {
    const parts = [
      quantizeTensor(randomTensor(7, 96, 4), { format: 'q4', group: 32 }),
      quantizeTensor(randomTensor(9, 96, 5), { format: 'q4', group: 64 }),
      quantizeTensor(randomTensor(33, 96, 6), { format: 'q8' }),
    ];
    const w = uploadLinear(ctx, parts, 'mixed');
    expect(w.format === 'stack' && w.parts.map((p) => p.format)).toEqual(['q4', 'q4', 'q8']);
    for (const M of [1, 3, 17]) await checkMatmul(ctx, parts, w, M, { accumulate: M === 3 });
    const rec = await run(ctx, (r) => k.matmul(r, { x: zeros(ctx, 96), w, out: zeros(ctx, 49), M: 1 }));
    expect(rec.counters.dispatches).toBe(3);
    expect(k.matmulPipelines(ctx, w, 1, 'none', false).map(([kernel]) => kernel)).toEqual([
      'matmul_gemv_qn',
      'matmul_gemv_qn',
      'matmul_gemv_qn',
    ]);
  });

  it('rejects a stack that mixes f32 and quantized parts with unsupported', () => {
    const err = (() => {
      try {
        uploadLinear(
          ctx,
          [randomTensor(4, 32, 1), quantizeTensor(randomTensor(4, 32, 2), { format: 'q4' })],
          'l0.wqkv',
        );
      } catch (e) {
        return e;
      }
    })();
    expect(isNibbleError(err) && err.code).toBe('unsupported');
  });
});

describe('packed weights on the GPU', () => {
  it('uploads the packed buffers: q4 g32 of a 172×64 linear is about 1/6 of f32', () => {
    const f = randomTensor(172, 64, 9);
    const q4 = quantizeTensor(f, { format: 'q4', group: 32 });
    const bytes = weightBytesByFormat(uploadLinear(ctx, [q4], 'q4'));
    expect(Object.keys(bytes)).toEqual(['q4']);
    expect(bytes.q4).toBe(weightBytes(q4)); // data 5504 + scales 1376 + zeros 344 bytes
    const ratio = bytes.q4 / weightBytesByFormat(uploadLinear(ctx, [f], 'f32')).f32;
    expect(ratio).toBeGreaterThan(1 / 6.5);
    expect(ratio).toBeLessThan(1 / 5.5);
  });

  it('rejects packed buffers whose lengths do not match the shape', () => {
    const q4 = quantizeTensor(randomTensor(8, 64, 1), { format: 'q4', group: 32 });
    const bad = { ...q4, shape: [9, 64] as [number, number] };
    expect(() => uploadLinear(ctx, [bad], 'bad')).toThrow(/data has 64 values/);
  });
});
