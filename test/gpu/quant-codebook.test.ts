// NF4 / FP4 (bitsandbytes blockwise 4-bit) kernels vs quantizeTensor({ format: 'nf4' | 'fp4' }),
// bit for bit: codes (high nibble first, odd-count padding), absmax per block; double
// quantization (CPU on the GPU's absmax) equal too. Random shapes, odd block sizes, values on
// the NF4/FP4 decision thresholds, zero blocks, subnormals, and real stories260K weights.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { LINEAR_NAMES } from '../../src/core/model/model.ts';
import { NF4_THRESHOLDS } from '../../src/core/quant/nf4.ts';
import { quantizeTensor, type QuantizeOptions } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor, type F32Tensor, type CodebookQuantTensor } from '../../src/core/tensor.ts';
import { GpuQuantizer } from '../../src/engine/quant/gpu-backend.ts';
import { stories260K } from '../unit/helpers.ts';
import { expectSameBits } from './quant-helpers.ts';
import { gpuContext, randomF32, rng } from './setup-device.ts';

let gq: GpuQuantizer;
beforeAll(async () => {
  gq = new GpuQuantizer(await gpuContext());
});

const FP4_T = Float32Array.from([0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333]);

async function same(t: F32Tensor, opts: QuantizeOptions, what: string): Promise<void> {
  const want = quantizeTensor(t, opts) as CodebookQuantTensor;
  const got = (await gq.quantizeTensor(t, opts)) as CodebookQuantTensor;
  expect({ ...got, buffers: undefined }, `${what}: metadata`).toEqual({ ...want, buffers: undefined });
  expectSameBits(got.buffers.data, want.buffers.data, `${what}: data`);
  expectSameBits(got.buffers.scales, want.buffers.scales, `${what}: scales`);
  expectSameBits(got.buffers.scales2, want.buffers.scales2, `${what}: scales2`);
}

/** Values whose normalized x̂ land exactly on (and one ulp around) the decision thresholds. */
function onThresholds(rand: () => number, n: number, B: number): Float32Array {
  const x = randomF32(rand, n, 0.05);
  const u = new Uint32Array(x.buffer);
  const T = [...NF4_THRESHOLDS, ...FP4_T, ...FP4_T.map((v) => -v)];
  for (let b = 0; b * B < n; b++) {
    const kind = b % 4;
    for (let i = b * B; i < Math.min(n, (b + 1) * B); i++) {
      if (kind === 0)
        x[i] = i === b * B ? 1 : T[Math.floor(rand() * T.length)] * (1 + (Math.floor(rand() * 3) - 1) * 2 ** -23); // absmax 1
      else if (kind === 1)
        x[i] = 0; // zero block
      else if (kind === 2 && rand() < 0.5) u[i] = (rand() < 0.5 ? 0x80000000 : 0) | Math.floor(rand() * 0x7fffff); // subnormals
    }
  }
  return x;
}

describe('NF4 / FP4 ≡ quantizeTensor, bit for bit', () => {
  for (const format of ['nf4', 'fp4'] as const) {
    it(`${format}: odd sizes and block sizes, thresholds, zero blocks, subnormals, double quant`, async () => {
      const rand = rng(format === 'nf4' ? 3 : 4);
      for (const shape of [[1], [7], [33], [172], [7, 33], [64, 172], [3, 1000]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        for (const B of [64, 1, 7, 100]) {
          const t = f32Tensor(shape, onThresholds(rand, n, B));
          await same(t, { format, group: B }, `${format} [${shape}] B=${B}`);
        }
        await same(f32Tensor(shape, randomF32(rand, n, 3)), { format, doubleQuant: true }, `${format} [${shape}] dq`);
      }
    });
  }

  it('every linear of stories260K, nf4 and fp4 (block 64), nf4 with double quant', async () => {
    const model = parseLlama2c(stories260K());
    for (const layer of model.weights.layers) {
      for (const name of LINEAR_NAMES) {
        const w = layer[name] as F32Tensor;
        await same(w, { format: 'nf4' }, `${name} nf4`);
        await same(w, { format: 'fp4' }, `${name} fp4`);
        await same(w, { format: 'nf4', doubleQuant: true }, `${name} nf4 dq`);
      }
    }
  });

  it('rejects non-finite values like the CPU twin', async () => {
    await expect(
      gq.quantizeTensor(f32Tensor([3], Float32Array.of(1, Infinity, 2)), { format: 'nf4' }),
    ).rejects.toMatchObject({ code: 'bad-argument' });
  });
});
