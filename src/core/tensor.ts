// A weight is a tensor with a format tag: f32, a uniform or codebook quantized format (layouts and
// the code ↔ value maps in quant/format.ts, quant/packing.ts, quant/nf4.ts), or LLM.int8 rows
// (quant/llmint8.ts). Kernels are chosen by `format`, so a runner never needs to know who produced
// a weight. This file is the ground floor: it imports nothing.

export interface F32Tensor {
  format: 'f32';
  shape: number[]; // row-major; linears are [out, in]
  data: Float32Array;
}

/**
 * Unquantized weights kept at 16 bits (an f16/bf16 checkpoint, a GGUF F16 tensor): IEEE binary16
 * codes packed two per word, element i in word i >> 1, low half when i & 1 = 0 — the pairing of
 * f16 scales in quant/format.ts and of WGSL `unpack2x16float`. An odd count pads the last word's
 * high half with 0. 2 bytes per value on the CPU, on the GPU and in a .nibble file.
 */
export interface F16Tensor {
  format: 'f16';
  shape: number[]; // row-major; linears are [out, in]
  data: Uint32Array; // (⌈numel / 2⌉)
}

export type UniformFormat = 'q8' | 'q4' | 'q3' | 'q2';
export type CodebookFormat = 'nf4' | 'fp4';
export type QuantFormat = UniformFormat | CodebookFormat;
/** How the scales of a uniform tensor were fitted ('tensor' is stored replicated per row). */
export type Granularity = 'tensor' | 'row' | 'group';

export interface UniformQuantTensor {
  format: UniformFormat;
  shape: [number, number]; // [out, in]
  granularity: Granularity;
  group: number; // inputs per group (= in for 'tensor' / 'row')
  sym: boolean;
  scaleType: 'f32' | 'f16';
  buffers: {
    data: Uint32Array; // (out, wordsPerRow)
    scales: Float32Array | Uint32Array; // (out, nGroups) f32, or fp16 pairs
    zeros?: Uint32Array; // (out, nGroups) bytes, asym only
    gIdx?: Uint32Array; // (in)
  };
}

export interface CodebookQuantTensor {
  format: CodebookFormat;
  shape: number[]; // flattened for blocking; linears are [out, in]
  group: number; // block size over the flattened tensor (bnb: 64)
  sym: true; // codebooks are symmetric around 0 by construction (absmax scaling)
  scaleType: 'f32' | 'dq8';
  scaleOffset?: number; // 'dq8' only
  buffers: {
    data: Uint32Array; // ⌈numel / 8⌉ words, high nibble first
    scales: Float32Array | Uint32Array; // absmax (nBlocks) f32, or u8 codes (dq8)
    scales2?: Float32Array; // 'dq8' only: (⌈nBlocks / 256⌉)
  };
}

/** LLM.int8 weight rows: w ≈ q · scale per row; outlier input columns run in f32 at matmul time. */
export interface Int8RowsTensor {
  format: 'llmint8';
  shape: [number, number]; // [out, in]
  threshold: number;
  buffers: {
    data: Uint32Array; // (out, ⌈in / 4⌉) int8 codes, byte k & 3 of word k >> 2
    scales: Float32Array; // (out)
  };
}

export type QuantTensor = UniformQuantTensor | CodebookQuantTensor;
export type Tensor = F32Tensor | F16Tensor | QuantTensor | Int8RowsTensor;
/** Weights stored as plain values (no codes, no scales). */
export type DenseTensor = F32Tensor | F16Tensor;
export type TensorFormat = Tensor['format'];

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function f32Tensor(shape: number[], data: Float32Array): F32Tensor {
  if (data.length !== numel(shape)) {
    throw new Error(`tensor data has ${data.length} values, shape [${shape}] needs ${numel(shape)}`);
  }
  return { format: 'f32', shape, data };
}
