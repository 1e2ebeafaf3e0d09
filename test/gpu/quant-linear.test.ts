// GpuQuantizer.quantizeLinear ≡ quantizeLinear (src/engine/quantize.ts) for every calibration-free
// method, bit for bit, on real stories260K linears and an odd random matrix: what the model
// pipeline gets when it swaps the CPU twins for the GPU.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { f32Tensor, type F32Tensor, type Tensor } from '../../src/core/tensor.ts';
import { DEFAULT_SPEC, type QuantSpec } from '../../src/core/quant/quant-spec.ts';
import { quantizeLinear } from '../../src/engine/quant/quantize-linear.ts';
import { GpuQuantizer } from '../../src/engine/quant/gpu-backend.ts';
import { stories260K } from '../unit/helpers.ts';
import { expectSameBits } from './quant-helpers.ts';
import { gpuContext, randomF32, rng } from './setup-device.ts';

let gq: GpuQuantizer;
beforeAll(async () => {
  gq = new GpuQuantizer(await gpuContext());
});

function expectSameTensor(got: Tensor, want: Tensor, what: string): void {
  expect(got.format, `${what}: format`).toBe(want.format);
  expect(got.shape, `${what}: shape`).toEqual(want.shape);
  if (want.format === 'f32' || got.format === 'f32') {
    expectSameBits((got as F32Tensor).data, (want as F32Tensor).data, `${what}: data`);
    return;
  }
  const { buffers: gb, ...gm } = got as Extract<Tensor, { buffers: unknown }>;
  const { buffers: wb, ...wm } = want as Extract<Tensor, { buffers: unknown }>;
  expect(gm, `${what}: metadata`).toEqual(wm);
  const keys = new Set([...Object.keys(gb), ...Object.keys(wb)]);
  for (const k of keys)
    expectSameBits((gb as Record<string, Uint32Array>)[k], (wb as Record<string, Uint32Array>)[k], `${what}: ${k}`);
}

const SPECS: Partial<QuantSpec>[] = [
  ...[2, 3, 4, 5, 6, 7, 8].flatMap((bits) => [
    { method: 'rtn' as const, bits, group: 0 },
    { method: 'rtn' as const, bits, group: 32, sym: true },
  ]),
  { method: 'rtn', bits: 4, group: 128, scaleType: 'f16' }, // group ≥ in → per row
  { method: 'rtn', bits: 3, group: 96 }, // ragged last group on 172-wide rows
  { method: 'nf4', group: 64 },
  { method: 'fp4', group: 64, doubleQuant: true },
  { method: 'llmint8', threshold: 6 },
  { method: 'fp16' },
  { method: 'bf16' },
  { method: 'tf32' },
  { method: 'fp8-e4m3' },
  { method: 'fp8-e5m2' },
  { method: 'trunc', mantissaBits: 2, truncMode: 'truncate' },
  { method: 'trunc', mantissaBits: 5, truncMode: 'rne' },
  { method: 'fp32' },
];

describe('GpuQuantizer.quantizeLinear ≡ quantizeLinear', () => {
  const model = parseLlama2c(stories260K());
  const layer = model.weights.layers[3];
  const weights: [string, F32Tensor][] = [
    ['wq', layer.wq as F32Tensor],
    ['w2', layer.w2 as F32Tensor],
    ['random 7×33', f32Tensor([7, 33], randomF32(rng(12), 7 * 33, 0.5))],
  ];
  for (const s of SPECS) {
    it(JSON.stringify(s), async () => {
      const spec = { ...DEFAULT_SPEC, ...s } as QuantSpec;
      for (const [name, w] of weights)
        expectSameTensor(await gq.quantizeLinear(w, spec), quantizeLinear(w, spec), name);
    });
  }

  it("calibrated methods are refused with the CPU twin's error", async () => {
    const w = weights[2][1];
    await expect(gq.quantizeLinear(w, { ...DEFAULT_SPEC, method: 'gptq' })).rejects.toMatchObject({
      code: 'bad-argument',
    });
  });
});
