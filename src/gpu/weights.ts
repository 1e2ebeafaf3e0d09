// Weights on the GPU, tagged by format like core's Tensor. Uploads switch on the format tag;
// the matmul wrapper (kernels.ts) switches on the GpuWeight's format to pick the kernel.
// Until packed-weight kernels exist, quantized formats are decoded to f32 at upload with the
// CPU twin's decoder (same ŵ values as the CPU backend), and the weight says so in
// `decodedFrom`. A q4 kernel adds a GpuWeight member and turns its case below into an upload
// of the packed buffers.
import { NibbleError } from '../core/errors.ts';
import { f32Values } from '../core/linear.ts';
import type { Tensor, TensorFormat } from '../core/tensor.ts';
import { uploadStorage } from './buffers.ts';
import type { GpuContext } from './device.ts';

/** A linear map W (n, k) = [out, in] on the GPU. */
export type GpuWeight = {
  format: 'f32';
  n: number;
  k: number;
  data: GPUBuffer;
  decodedFrom?: TensorFormat[]; // formats of the parts that were decoded to f32 at upload
};

const shapeOf = (t: Tensor, label: string): [number, number] => {
  if (t.shape.length !== 2) throw new NibbleError('bad-dims', `${label}: expected a matrix, got shape [${t.shape}]`);
  return [t.shape[0], t.shape[1]];
};

/** The f32 values the current kernels read for one linear, by format. */
function linearF32(t: Tensor, label: string): Float32Array {
  switch (t.format) {
    case 'f32':
      return t.data;
    case 'q8':
    case 'q4':
    case 'q3':
    case 'q2':
    case 'nf4':
    case 'fp4':
      return f32Values(t); // no packed kernel yet: decoded once, here
    case 'llmint8':
      throw new NibbleError(
        'unsupported',
        `${label}: LLM.int8 weights need the mixed-precision matmul, which has no GPU kernel yet; use the CPU backend for this variant`,
      );
    default: {
      const never: never = t;
      throw new NibbleError('unsupported', `${label}: no GPU upload for weight format ${(never as Tensor).format}`);
    }
  }
}

/**
 * Uploads one linear map, or several stacked along the output dim (e.g. wq;wk;wv → one
 * (qDim + 2·kvDim, dim) weight so one matmul computes all three). Parts must share the
 * input size.
 */
export function uploadLinear(ctx: GpuContext, parts: readonly Tensor[], label: string): GpuWeight {
  const shapes = parts.map((t, i) => shapeOf(t, `${label}[${i}]`));
  const k = shapes[0][1];
  if (shapes.some(([, kk]) => kk !== k)) {
    throw new NibbleError('bad-dims', `${label}: stacked parts have input sizes ${shapes.map((s) => s[1])}`);
  }
  const n = shapes.reduce((s, [nn]) => s + nn, 0);
  const data = uploadStorage(ctx, parts.map((t, i) => linearF32(t, `${label}[${i}]`)), label);
  const decoded = parts.map((t) => t.format).filter((f) => f !== 'f32');
  return decoded.length ? { format: 'f32', n, k, data, decodedFrom: decoded } : { format: 'f32', n, k, data };
}

/** Uploads a vector (norm weights) or table (embeddings) that the kernels read as f32. */
export function uploadF32(ctx: GpuContext, t: Tensor, label: string): GPUBuffer {
  return uploadStorage(ctx, f32Values(t), label);
}
