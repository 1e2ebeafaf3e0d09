import type { AnyTensor } from './quant/format.ts';

// A weight is a tensor with a format tag: f32, or a quantized format (src/core/quant/format.ts,
// src/core/quant/llmint8.ts); kernels are chosen by `format`, so the runner never needs to know who produced a weight.

export interface F32Tensor {
  format: 'f32';
  shape: number[]; // row-major; linears are [out, in]
  data: Float32Array;
}

export type Tensor = AnyTensor;
export type TensorFormat = Tensor['format'];

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function f32Tensor(shape: number[], data: Float32Array): F32Tensor {
  if (data.length !== numel(shape)) {
    throw new Error(`tensor data has ${data.length} values, shape [${shape}] needs ${numel(shape)}`);
  }
  return { format: 'f32', shape, data };
}
