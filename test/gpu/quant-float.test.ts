// Float-format fake quantization and fraction-bit truncation kernels vs float-formats.ts, bit for
// bit, over many random f32 bit patterns biased to subnormals, ±0, ±∞, NaN, midpoints and the
// edges of every format's range — plus every fp16 / fp8 code's value and its neighbours.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FLOAT_SPECS,
  decodeFloat,
  roundArrayToFloat,
  roundFraction,
  truncateFraction,
  type FloatFormat,
} from '../../src/core/quant/float-formats.ts';
import { f32Tensor } from '../../src/core/tensor.ts';
import { DEFAULT_SPEC } from '../../src/core/quant/quant-spec.ts';
import { quantizeLinear } from '../../src/engine/quant/quantize-linear.ts';
import { GpuQuantizer } from '../../src/engine/quant/gpu-backend.ts';
import { expectSameBits, randomBits } from './quant-helpers.ts';
import { gpuContext, rng } from './setup-device.ts';

let gq: GpuQuantizer;
beforeAll(async () => {
  gq = new GpuQuantizer(await gpuContext());
});

const N = 1 << 16;
const FORMATS: FloatFormat[] = ['fp16', 'bf16', 'tf32', 'fp8e4m3', 'fp8e5m2'];

/** Every code's value of a ≤ 16-bit format and the f32 values one ulp and half a quantum around it. */
function aroundCodes(f: FloatFormat): Float32Array {
  const s = FLOAT_SPECS[f];
  const bits = 1 + s.expBits + s.manBits;
  const out: number[] = [];
  for (let c = 0; c < 2 ** bits; c++) {
    const v = decodeFloat(c, s);
    if (!Number.isFinite(v)) continue;
    const next = decodeFloat(c + 1, s);
    out.push(v, Math.fround(v * (1 + 2 ** -23)), Math.fround(v * (1 - 2 ** -24)));
    if (Number.isFinite(next) && Math.sign(next) === Math.sign(v || 1)) out.push(Math.fround((v + next) / 2));
  }
  return Float32Array.from(out);
}

describe('float formats ≡ roundArrayToFloat (default overflow) and with both overflow modes', () => {
  const x = randomBits(rng(1), N);
  for (const f of FORMATS) {
    it(`${f}: ${N} random bit patterns and every code's neighbourhood`, async () => {
      expectSameBits(await gq.roundToFloat(x, f), roundArrayToFloat(x, f), `${f} random`);
      for (const ov of ['ieee', 'saturate'] as const)
        expectSameBits(await gq.roundToFloat(x, f, ov), roundArrayToFloat(x, f, ov), `${f} ${ov}`);
      if (f !== 'bf16' && f !== 'tf32') {
        const y = aroundCodes(f);
        expectSameBits(await gq.roundToFloat(y, f), roundArrayToFloat(y, f), `${f} codes`);
      }
    });
  }
});

describe('fraction bits ≡ truncateFraction / roundFraction for every k', () => {
  it(`k = 0..23 over ${N / 4} random bit patterns`, async () => {
    const x = randomBits(rng(2), N / 4);
    for (let k = 0; k <= 23; k++) {
      expectSameBits(await gq.truncate(x, k, 'truncate'), truncateFraction(x, k), `truncate k=${k}`);
      expectSameBits(await gq.truncate(x, k, 'rne'), roundFraction(x, k), `rne k=${k}`);
    }
    await expect(gq.truncate(x, 24, 'rne')).rejects.toThrow(RangeError);
  });
});

describe('quantizeLinear for the float methods', () => {
  it('fp16 … fp8-e5m2 and trunc (both modes) equal the CPU pipeline on an odd matrix', async () => {
    const w = f32Tensor(
      [7, 33],
      randomBits(rng(3), 7 * 33).map((v) => (Number.isFinite(v) ? v : 1)),
    );
    for (const method of ['fp16', 'bf16', 'tf32', 'fp8-e4m3', 'fp8-e5m2', 'trunc'] as const) {
      for (const truncMode of ['truncate', 'rne'] as const) {
        const spec = { ...DEFAULT_SPEC, method, truncMode, mantissaBits: 3 };
        const want = quantizeLinear(w, spec);
        const got = await gq.quantizeLinear(w, spec);
        expect(got.format).toBe('f32');
        if (got.format === 'f32' && want.format === 'f32')
          expectSameBits(got.data, want.data, `${method} ${truncMode}`);
      }
    }
  });
});
