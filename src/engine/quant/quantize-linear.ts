// The one quantizer switch: a QuantSpec's method → the backend call that quantizes one linear
// W (out N, in K), the same for the CPU twins and the WGSL kernels (as dispatchMatmul in
// src/gpu/kernels.ts is the one switch of the matmuls). Calibration methods come in two parts:
// smoothquant folds its scales first and then quantizes as llmint8; gptq needs a finished Hessian
// (gptqLinear).
import { NibbleError } from '../../core/errors.ts';
import { isCodebookFormat, isUniformFormat } from '../../core/quant/format.ts';
import type { GptqResult } from '../../core/quant/gptq.ts';
import { FLOAT_METHODS, type QuantSpec } from '../../core/quant/quant-spec.ts';
import { packUniform, uniformPlan, type QuantizeOptions, type UniformPlan } from '../../core/quant/quantize-tensor.ts';
import { checkBits } from '../../core/quant/uniform.ts';
import { f32Tensor, type F32Tensor, type QuantTensor, type Tensor } from '../../core/tensor.ts';
import type { GptqBackend, HessianState, Mode, Out, QuantBackend } from './backend.ts';
import { CPU_QUANT } from './cpu-backend.ts';

/** The container of b-bit codes: q2/q3/q4/q8 as they are, 5–7 bits in q8 with zero points. */
const containerOf = (bits: number) => (bits === 2 || bits === 3 || bits === 4 || bits === 8 ? bits : 8);

/** RTN's plan for a linear (N, K): group 0 or ≥ K is one group per row. */
export function rtnPlan(spec: QuantSpec, N: number, K: number): UniformPlan {
  checkBits(spec.bits);
  const grouped = spec.group > 0 && spec.group < K;
  return {
    rows: N,
    cols: K,
    bits: spec.bits,
    container: containerOf(spec.bits),
    granularity: grouped ? 'group' : 'row',
    group: grouped ? spec.group : K,
    sym: spec.sym,
    scaleType: containerOf(spec.bits) === spec.bits ? spec.scaleType : 'f32', // 5–7 bits: f32 scales
  };
}

/** Quantizes one f32 linear by a calibration-free method on backend b. */
export function quantizeLinearOn<M extends Mode>(b: QuantBackend<M>, w: F32Tensor, spec: QuantSpec): Out<Tensor, M> {
  const [N, K] = w.shape;
  const f32 = (x: Out<Float32Array, M>) => b.map(x, (d): Tensor => f32Tensor([N, K], d));
  switch (spec.method) {
    case 'fp32':
      return b.resolve<Tensor>(w);
    case 'rtn':
      return b.uniform(w, rtnPlan(spec, N, K));
    case 'nf4':
    case 'fp4':
      return b.codebook(w, spec.method, spec.group || 64, spec.doubleQuant);
    case 'llmint8':
      return b.int8Rows(w, spec.threshold);
    case 'trunc':
      return f32(b.truncate(w.data, spec.mantissaBits, spec.truncMode));
    default: {
      const fmt = FLOAT_METHODS[spec.method];
      if (fmt) return f32(b.roundToFloat(w.data, fmt));
      throw new NibbleError('bad-argument', `method ${spec.method} needs calibration data`);
    }
  }
}

/** quantizeLinearOn on the CPU twins, synchronously. */
export const quantizeLinear = (w: F32Tensor, spec: QuantSpec): Tensor => quantizeLinearOn(CPU_QUANT, w, spec);

/** quantizeTensor (src/core/quant/quantize-tensor.ts) on backend b: uniform q8/q4/q3/q2 or nf4/fp4. */
export function quantizeTensorOn<M extends Mode>(
  b: QuantBackend<M>,
  t: F32Tensor,
  opts: QuantizeOptions,
): Out<QuantTensor, M> {
  if (isCodebookFormat(opts.format)) return b.codebook(t, opts.format, opts.group ?? 64, opts.doubleQuant ?? false);
  if (isUniformFormat(opts.format)) return b.uniform(t, uniformPlan(t.shape, opts));
  throw new NibbleError('unsupported', `quantizeTensor: unknown format '${String(opts.format)}'`);
}

/** GPTQ of one linear W (N, K) with backend b's finished Hessian h: the packed tensor and its loss. */
export async function gptqLinear<H extends HessianState>(
  b: GptqBackend<Mode, H>,
  w: F32Tensor,
  h: H,
  spec: QuantSpec,
): Promise<{ tensor: Tensor; loss: number }> {
  const [N, K] = w.shape;
  const r = await b.gptq(w.data, N, K, h, {
    bits: spec.bits,
    group: spec.group,
    sym: spec.sym,
    actOrder: spec.actOrder,
    staticGroups: spec.staticGroups,
    damp: spec.damp,
    blockSize: spec.blockSize,
  });
  return { tensor: packGptq(r, N, K, spec), loss: r.loss };
}

/** GPTQ codes → packed uniform tensor (5–7 bits in 8-bit containers; act-order keeps g_idx). */
function packGptq(r: GptqResult, N: number, K: number, spec: QuantSpec): Tensor {
  const G = spec.group > 0 ? Math.min(spec.group, K) : K;
  const nGroups = Math.ceil(K / G);
  const container = containerOf(spec.bits);
  const natural = r.gIdx.every((g, c) => g === Math.floor(c / G));
  return packUniform(
    {
      rows: N,
      cols: K,
      bits: container,
      sym: spec.sym && container === spec.bits,
      granularity: spec.group > 0 && G < K ? 'group' : 'row',
      group: G,
      nGroups,
      codes: r.codes,
      scales: r.scales,
      zeros: Uint8Array.from(r.zeros),
    },
    'f32',
    natural ? undefined : Uint32Array.from(r.gIdx),
  );
}
