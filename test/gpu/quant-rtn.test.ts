// RTN (uniform) and absmax-int8 kernels vs their CPU twins, bit for bit: quantizeTensor
// (src/core/quant/quantize-tensor.ts) and packInt8Rows(quantizeRowsInt8) (src/core/quant/llmint8.ts),
// on random shapes (odd sizes 1, 7, 33, 172), constructed ties, subnormals, and every linear of
// the real stories260K model.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { packInt8Rows, quantizeRowsInt8 } from '../../src/core/quant/llmint8.ts';
import { LINEAR_NAMES } from '../../src/core/model/model.ts';
import { quantizeTensor, type QuantizeOptions } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor, type F32Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { GpuQuantizer } from '../../src/engine/quant/gpu-backend.ts';
import { stories260K } from '../unit/helpers.ts';
import { expectSameBits } from './quant-helpers.ts';
import { gpuContext, randomF32, rng } from './setup-device.ts';

let ctx: GpuContext;
let gq: GpuQuantizer;
beforeAll(async () => {
  ctx = await gpuContext();
  gq = new GpuQuantizer(ctx);
});

const model = parseLlama2c(stories260K());

async function expectSameUniform(w: F32Tensor, opts: QuantizeOptions, what: string): Promise<void> {
  const want = quantizeTensor(w, opts) as UniformQuantTensor;
  const got = (await gq.quantizeTensor(w, opts)) as UniformQuantTensor;
  expect({ ...got, buffers: undefined }, `${what}: metadata`).toEqual({ ...want, buffers: undefined });
  expectSameBits(got.buffers.data, want.buffers.data, `${what}: data`);
  expectSameBits(got.buffers.scales, want.buffers.scales, `${what}: scales`);
  expectSameBits(got.buffers.zeros, want.buffers.zeros, `${what}: zeros`);
}

/** Rows mixing ordinary values, exact ties of the grid, subnormals, ±0 and an all-zero row. */
function nastyMatrix(rand: () => number, rows: number, cols: number, bits: number): Float32Array {
  const w = randomF32(rand, rows * cols, 0.1);
  const mq = 2 ** bits - 1;
  const u = new Uint32Array(w.buffer);
  for (let r = 0; r < rows; r++) {
    const kind = r % 5;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      if (kind === 1)
        w[i] = c === 0 ? 0 : c === 1 ? mq / 16 : (Math.floor(rand() * mq) + 0.5) / 16; // scale 1/16, x/scale = k + ½
      else if (kind === 2 && rand() < 0.3)
        u[i] = (rand() < 0.5 ? 0x80000000 : 0) | Math.floor(rand() * 0x7fffff); // subnormal
      else if (kind === 3)
        w[i] = r === 3 ? 0 : -0; // all-zero rows → [−1, 1]
      else if (kind === 4 && rand() < 0.2) w[i] = -0;
    }
  }
  return w;
}

const SHAPES: [number, number][] = [
  [1, 1],
  [1, 7],
  [7, 33],
  [33, 7],
  [5, 172],
  [3, 100],
];

describe('RTN uniform quantizer (q8/q4/q3/q2) ≡ quantizeTensor, bit for bit', () => {
  for (const bits of [2, 3, 4, 8] as const) {
    it(`q${bits}: per row, groups (dividing, ragged, 1, multiples of 32), sym/asym, f32/f16 scales, tensor`, async () => {
      const rand = rng(100 + bits);
      for (const [rows, cols] of SHAPES) {
        const w = f32Tensor([rows, cols], nastyMatrix(rand, rows, cols, bits));
        const groups = [...new Set([1, 7, 32, 64, 96, Math.max(1, Math.floor(cols / 2))])].filter((g) => g <= cols);
        for (const sym of [false, true]) {
          for (const scaleType of ['f32', 'f16'] as const) {
            const base = { format: `q${bits}` as const, sym, scaleType };
            await expectSameUniform(w, { ...base, granularity: 'row' }, `${rows}×${cols} row sym=${sym} ${scaleType}`);
            for (const group of groups)
              await expectSameUniform(
                w,
                { ...base, granularity: 'group', group },
                `${rows}×${cols} g${group} sym=${sym} ${scaleType}`,
              );
          }
          await expectSameUniform(
            w,
            { format: `q${bits}`, sym, granularity: 'tensor' },
            `${rows}×${cols} tensor sym=${sym}`,
          );
        }
      }
    });
  }

  it('every linear of stories260K: q4 g32, q3 g64 sym, q2 per row, q8 g16 f16, q4 g96 (ragged)', async () => {
    for (const layer of model.weights.layers) {
      for (const name of LINEAR_NAMES) {
        const w = layer[name] as F32Tensor;
        await expectSameUniform(w, { format: 'q4', group: 32 }, `${name} q4 g32`);
        await expectSameUniform(w, { format: 'q3', group: 64, sym: true }, `${name} q3 g64 sym`);
        await expectSameUniform(w, { format: 'q2' }, `${name} q2 row`);
        await expectSameUniform(w, { format: 'q8', group: 16, scaleType: 'f16' }, `${name} q8 g16 f16`);
        if (w.shape[1] > 96) await expectSameUniform(w, { format: 'q4', group: 96 }, `${name} q4 g96`);
      }
    }
  });

  it('rejects non-finite weights and fp16-overflowing scales like the CPU twin', async () => {
    const bad = f32Tensor([2, 3], Float32Array.of(1, 2, 3, 4, NaN, 6));
    await expect(gq.quantizeTensor(bad, { format: 'q4' })).rejects.toMatchObject({ code: 'bad-argument' });
    const huge = f32Tensor([1, 2], Float32Array.of(-3e38, 3e38));
    expect(() => quantizeTensor(huge, { format: 'q4', scaleType: 'f16' })).toThrow(/fp16/);
    await expect(gq.quantizeTensor(huge, { format: 'q4', scaleType: 'f16' })).rejects.toMatchObject({
      code: 'unsupported',
    });
  });
});

describe('absmax int8 rows (LLM.int8 weight) ≡ packInt8Rows(quantizeRowsInt8), bit for bit', () => {
  const cpu = (w: F32Tensor) =>
    packInt8Rows(quantizeRowsInt8(w.data, w.shape[0], w.shape[1]), w.shape[0], w.shape[1], 6);

  async function same(w: F32Tensor, what: string): Promise<void> {
    const want = cpu(w);
    const got = await gq.int8Rows(w, 6);
    expect(got.shape).toEqual(want.shape);
    expectSameBits(got.buffers.data, want.buffers.data, `${what}: data`);
    expectSameBits(got.buffers.scales, want.buffers.scales, `${what}: scales`);
  }

  it('random shapes with zero rows and subnormals', async () => {
    const rand = rng(7);
    for (const [rows, cols] of [...SHAPES, [64, 172] as [number, number]])
      await same(f32Tensor([rows, cols], nastyMatrix(rand, rows, cols, 8)), `${rows}×${cols}`);
  });

  it("exact ties 127·w / a = k + ½, where the twin's two float64 roundings decide", async () => {
    // a = 254·m·2^-e and w = (2k+1)·m·2^-e: every product is an exact tie. Many mantissas m
    // exercise both directions of fl64(127 / a)'s rounding and both exponent cases s = 69, 70.
    const rand = rng(11);
    const rows = 256;
    const cols = 40;
    const w = new Float32Array(rows * cols);
    let ties = 0;
    for (let r = 0; r < rows; r++) {
      const m = 2 * Math.floor(rand() * 30000) + 1; // odd, ≤ 2^16: 254·m fits 24 bits
      const e = 10 + Math.floor(rand() * 40);
      const a = Math.fround(254 * m * 2 ** -e);
      w[r * cols] = r % 2 ? -a : a;
      for (let c = 1; c < cols; c++) {
        const k = Math.floor(rand() * 127);
        w[r * cols + c] = Math.fround((rand() < 0.5 ? -1 : 1) * (2 * k + 1) * m * 2 ** -e);
        ties++;
      }
    }
    expect(ties).toBeGreaterThan(9000);
    await same(f32Tensor([rows, cols], w), 'ties');
  });

  it('every linear of stories260K', async () => {
    for (const layer of model.weights.layers)
      for (const name of LINEAR_NAMES) await same(layer[name] as F32Tensor, name);
  });
});
