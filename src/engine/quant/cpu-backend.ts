// The quantizer backend of the CPU twins (src/core/quant): synchronous, GPTQ in float64. It is the
// reference every GPU quantizer is tested against.
import { roundArrayToFloat, roundFraction, truncateFraction } from '../../core/quant/float-formats.ts';
import { HessianAccumulator, gptqQuantize } from '../../core/quant/gptq.ts';
import { packInt8Rows, quantizeRowsInt8 } from '../../core/quant/llmint8.ts';
import { quantizeTensor, quantizeUniformPlan } from '../../core/quant/quantize-tensor.ts';
import type { CodebookQuantTensor } from '../../core/tensor.ts';
import type { GptqBackend } from './backend.ts';

export const CPU_QUANT: GptqBackend<'sync', HessianAccumulator> = {
  name: 'cpu',
  mode: 'sync',
  resolve: (v) => v,
  map: (r, f) => f(r),

  uniform: (w, plan) => quantizeUniformPlan(w.data, plan),
  codebook: (w, format, blockSize, doubleQuant) =>
    quantizeTensor(w, { format, group: blockSize, doubleQuant }) as CodebookQuantTensor,
  int8Rows(w, threshold) {
    const [N, K] = w.shape;
    return packInt8Rows(quantizeRowsInt8(w.data, N, K), N, K, threshold);
  },
  roundToFloat: (x, format, overflow) => roundArrayToFloat(x, format, overflow),
  truncate: (x, k, mode) => (mode === 'rne' ? roundFraction(x, k) : truncateFraction(x, k)),

  hessian: (cols) => new HessianAccumulator(cols),
  accumulateHessian: (h, a) => h.add(a.x, a.rows),
  finishHessian: () => {},
  releaseHessian: () => {},
  gptq: (W, rows, cols, h, opts) => gptqQuantize(W, rows, cols, h.H, opts),
};
