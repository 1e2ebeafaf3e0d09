// Weights on the GPU, tagged by format like core's Tensor. Uploads switch on the format tag;
// the matmul wrapper (kernels.ts) switches on it again to pick the kernel. A new format (q8,
// q4, ...) adds a member to GpuWeight and a case to each switch.
import { NibbleError } from '../core/errors.ts';
import type { Tensor } from '../core/tensor.ts';
import { uploadStorage } from './buffers.ts';
import type { GpuContext } from './device.ts';

/** A linear map W (n, k) = [out, in] on the GPU. */
export type GpuWeight = { format: 'f32'; n: number; k: number; data: GPUBuffer };

const shapeOf = (t: Tensor, label: string): [number, number] => {
  if (t.shape.length !== 2) throw new NibbleError('bad-dims', `${label}: expected a matrix, got shape [${t.shape}]`);
  return [t.shape[0], t.shape[1]];
};

/**
 * Uploads one linear map, or several stacked along the output dim (e.g. wq;wk;wv → one
 * (qDim + 2·kvDim, dim) weight so one matmul computes all three). Parts must share the
 * input size and the format.
 */
export function uploadLinear(ctx: GpuContext, parts: readonly Tensor[], label: string): GpuWeight {
  const shapes = parts.map((t, i) => shapeOf(t, `${label}[${i}]`));
  const k = shapes[0][1];
  if (shapes.some(([, kk]) => kk !== k)) {
    throw new NibbleError('bad-dims', `${label}: stacked parts have input sizes ${shapes.map((s) => s[1])}`);
  }
  const n = shapes.reduce((s, [nn]) => s + nn, 0);
  const format = parts[0].format;
  if (parts.some((t) => t.format !== format)) {
    throw new NibbleError('unsupported', `${label}: cannot stack formats ${parts.map((t) => t.format)}`);
  }
  switch (format) {
    case 'f32':
      return { format, n, k, data: uploadStorage(ctx, parts.map((t) => t.data), label) };
    default: {
      const never: never = format;
      throw new NibbleError('unsupported', `${label}: no GPU kernel for weight format ${String(never)}`);
    }
  }
}

/** Uploads a vector (norm weights) or table (embeddings) that the kernels read as f32. */
export function uploadF32(ctx: GpuContext, t: Tensor, label: string): GPUBuffer {
  switch (t.format) {
    case 'f32':
      return uploadStorage(ctx, t.data, label);
    default: {
      const never: never = t.format;
      throw new NibbleError('unsupported', `${label}: expected f32, got ${String(never)}`);
    }
  }
}
