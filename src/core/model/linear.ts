// y = x · Wᵀ for a weight in any format: the CPU twin of the GPU matmul dispatch (one switch on
// the format tag). Quantized weights are decoded from their packed codes on every call, so the
// CPU backend computes with exactly the values the GPU kernels see.
import { NibbleError } from '../errors.ts';
import { matmulInt8Mixed, unpackInt8Rows } from '../quant/llmint8.ts';
import { matmul } from './ops.ts';
import { type F32Tensor, type Tensor } from '../tensor.ts';
import { dequantizeTensor } from '../quant/quantize-tensor.ts';
import { widenF16, widenF16Range } from '../formats/f16-tensor.ts';
import { UNIFORM_BITS, isUniformFormat, unpackScales, unpackZeros } from '../quant/format.ts';
import { readCode, wordsPerRow } from '../quant/packing.ts';
import { dequantizeValue } from '../quant/uniform.ts';

/** out (M, N) = x (M, K) · Wᵀ with W [N, K] in any format. */
export function linear(out: Float32Array, x: Float32Array, w: Tensor, M: number, K: number, N: number): void {
  if (w.shape.length !== 2 || w.shape[0] !== N || w.shape[1] !== K) {
    throw new NibbleError('bad-argument', `linear: weight shape [${w.shape}] does not match [${N}, ${K}]`);
  }
  switch (w.format) {
    case 'f32':
      return matmul(out, x, w.data, M, K, N);
    case 'f16': // widened per call (one tensor at a time), as the GPU unpacks per read
      return matmul(out, x, widenF16(w).data, M, K, N);
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
  if (t.format === 'f16') return widenF16(t).data;
  if (t.format === 'llmint8') {
    const { q, scale } = unpackInt8Rows(t);
    const K = t.shape[1];
    return Float32Array.from(q, (v, i) => v * scale[Math.floor(i / K)]);
  }
  return dequantizeTensor(t).data;
}

/**
 * Rows tokens[m] of a (vocab, dim) table as f32 (M, dim): the CPU twin of the embedding kernels
 * (embed_f32 / embed_f16 / embed_qn). f32, f16 and uniform tables decode only the rows asked
 * for (the same values f32Values gives); other formats decode the whole table.
 */
export function embeddingRows(t: Tensor, tokens: readonly number[], dim: number): Float32Array {
  const out = new Float32Array(tokens.length * dim);
  if (t.format === 'f16') {
    tokens.forEach((tok, m) => out.set(widenF16Range(t, tok * dim, dim), m * dim));
    return out;
  }
  if (t.format !== 'f32' && isUniformFormat(t.format) && 'granularity' in t) {
    const nGroups = Math.ceil(dim / t.group);
    const scales = unpackScales(t);
    const zeros = unpackZeros(t);
    const g = t.buffers.gIdx;
    const bits = UNIFORM_BITS[t.format];
    const wpr = wordsPerRow(bits, dim);
    tokens.forEach((tok, m) => {
      for (let d = 0; d < dim; d++) {
        const gi = tok * nGroups + (g ? g[d] : Math.floor(d / t.group));
        out[m * dim + d] = dequantizeValue(readCode(t.buffers.data, tok * wpr, d, bits), scales[gi], zeros[gi]);
      }
    });
    return out;
  }
  const all = f32Values(t);
  tokens.forEach((tok, m) => out.set(all.subarray(tok * dim, (tok + 1) * dim), m * dim));
  return out;
}

/**
 * A weight's values as f32 (ŵ for a quantized one): what quantizers and charts read when the
 * loaded model is itself quantized (a GGUF Q8_0/Q4_0 file kept native, a .nibble variant loaded
 * as the base, an f16 checkpoint). LLM.int8 rows keep their outlier split only inside matmuls: refused here.
 */
export function weightValues(w: Tensor, what: string): F32Tensor {
  if (w.format === 'f32') return w;
  if (w.format === 'f16') return widenF16(w); // per tensor, on demand: the model keeps 2 bytes/weight
  if (w.format === 'llmint8')
    throw new NibbleError(
      'unsupported',
      `${what} is stored as LLM.int8 rows; quantize from an fp32 or uniform/codebook-quantized model`,
    );
  return dequantizeTensor(w);
}
