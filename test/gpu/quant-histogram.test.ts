// histogram_codes (bucket collisions with workgroup + global atomics) vs its CPU twin
// src/core/quant/histogram.ts codeHistogram: exact counts per code and clipped-at-ends counts,
// for every container, ragged groups, fp16 scales, a gIdx permutation and real weights.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { codeHistogram } from '../../src/core/quant/histogram.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor, type F32Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import { GpuQuantizer } from '../../src/engine/quant/gpu-backend.ts';
import { stories260K } from '../unit/helpers.ts';
import { gpuContext, randomF32, rng } from './setup-device.ts';

let gq: GpuQuantizer;
beforeAll(async () => {
  gq = new GpuQuantizer(await gpuContext());
});

async function same(t: UniformQuantTensor, w: Float32Array | undefined, what: string, bits?: number): Promise<void> {
  const want = codeHistogram(t, w, bits);
  const got = await gq.histogram(t, w, bits);
  expect(got, what).toEqual(want);
  const [rows, cols] = t.shape;
  expect(
    got.counts.reduce((a, b) => a + b, 0),
    `${what}: total`,
  ).toBe(rows * cols);
}

describe('code histogram ≡ codeHistogram', () => {
  it('q2/q3/q4/q8, sym (clips at the top) and asym, ragged groups, f16 scales', async () => {
    const rand = rng(9);
    for (const [rows, cols] of [
      [1, 1],
      [7, 33],
      [33, 7],
      [64, 172],
    ] as [number, number][]) {
      const w = f32Tensor([rows, cols], randomF32(rand, rows * cols, 2));
      for (const format of ['q2', 'q3', 'q4', 'q8'] as const) {
        for (const sym of [false, true]) {
          const t = quantizeTensor(w, {
            format,
            group: Math.min(cols, 32),
            sym,
            scaleType: sym ? 'f16' : 'f32',
          }) as UniformQuantTensor;
          await same(t, undefined, `${format} ${rows}×${cols} codes only`);
          await same(t, w.data, `${format} ${rows}×${cols} sym=${sym}`);
        }
      }
    }
  });

  it('clipping against a foreign grid (weights outside it) with a gIdx permutation', async () => {
    const rand = rng(10);
    const [rows, cols] = [33, 100];
    const w = randomF32(rand, rows * cols, 1);
    const t = quantizeTensor(f32Tensor([rows, cols], randomF32(rand, rows * cols, 0.3)), {
      format: 'q3',
      group: 32,
    }) as UniformQuantTensor;
    const gIdx = Uint32Array.from({ length: cols }, (_, c) => (c * 7) % 4);
    const tg = { ...t, buffers: { ...t.buffers, gIdx } };
    const h = codeHistogram(tg, w);
    expect(h.clippedLow + h.clippedHigh).toBeGreaterThan(100);
    await same(tg, w, 'q3 with gIdx');
    await same(tg, w, 'q3 as 2-bit codes', 2);
  });

  it('stories260K w1 of every layer, q4 g32 and q2 per row', async () => {
    const model = parseLlama2c(stories260K());
    for (const layer of model.weights.layers) {
      const w = layer.w1 as F32Tensor;
      await same(quantizeTensor(w, { format: 'q4', group: 32 }) as UniformQuantTensor, w.data, 'w1 q4 g32');
      await same(quantizeTensor(w, { format: 'q2', sym: true }) as UniformQuantTensor, w.data, 'w1 q2 sym');
    }
  });
});
