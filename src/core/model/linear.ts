// y = x · Wᵀ for a weight in any format: the CPU twin of the GPU matmul dispatch (one switch on
// the format tag). Quantized weights are decoded from their packed codes on every call, so the
// CPU backend computes with exactly the values the GPU kernels see.
import { NibbleError } from '../errors.ts';
import { matmulInt8Mixed, unpackInt8Rows } from '../quant/llmint8.ts';
import { matmul } from './ops.ts';
import { type F32Tensor, type Tensor } from '../tensor.ts';
import { dequantizeTensor } from '../quant/quantize-tensor.ts';

/** out (M, N) = x (M, K) · Wᵀ with W [N, K] in any format. */
export function linear(out: Float32Array, x: Float32Array, w: Tensor, M: number, K: number, N: number): void {
  if (w.shape.length !== 2 || w.shape[0] !== N || w.shape[1] !== K) {
    throw new NibbleError('bad-argument', `linear: weight shape [${w.shape}] does not match [${N}, ${K}]`);
  }
  switch (w.format) {
    case 'f32':
      return matmul(out, x, w.data, M, K, N);
    case 'llmint8':
      matmulInt8Mixed(out, x, unpackInt8Rows(w), M, K, N, w.threshold);
      return;
    default:
      return matmul(out, x, dequantizeTensor(w).data, M, K, N);
  }
}

/** The fp32 values of any tensor (norm weights, embedding rows): decoded when quantized. */
export function f32Values(t: Tensor): Float32Array {
  if (t.format === 'f32') return t.data;
  if (t.format === 'llmint8') {
    const { q, scale } = unpackInt8Rows(t);
    const K = t.shape[1];
    return Float32Array.from(q, (v, i) => v * scale[Math.floor(i / K)]);
  }
  return dequantizeTensor(t).data;
}

/**
 * A weight's values as f32 (ŵ for a quantized one): what quantizers and charts read when the
 * loaded model is itself quantized (a GGUF Q8_0/Q4_0 file kept native, a .nibble variant loaded
 * as the base). LLM.int8 rows keep their outlier split only inside matmuls: refused here.
 */
export function weightValues(w: Tensor, what: string): F32Tensor {
  if (w.format === 'f32') return w;
  if (w.format === 'llmint8')
    throw new NibbleError(
      'unsupported',
      `${what} is stored as LLM.int8 rows; quantize from an fp32 or uniform/codebook-quantized model`,
    );
  return dequantizeTensor(w);
}
