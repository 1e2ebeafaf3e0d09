// Quantized weight tensors: the tagged storage kernels read (layouts in packing.ts).
//
// Uniform ('q8' | 'q4' | 'q3' | 'q2', bits 8/4/3/2), a linear [out, in]:
//   buffers.data   Uint32Array (out, wordsPerRow(bits, in)): codes packed per row (packing.ts).
//   buffers.scales (out, nGroups), nGroups = ⌈in / group⌉, row-major, flat:
//                  scaleType 'f32' → Float32Array; 'f16' → Uint32Array of fp16 pairs
//                  (index i in word i >> 1, half i & 1: WGSL unpack2x16float(word)[i & 1]).
//                  f16 scales are ≥ 2^-24; below 2^-14 they are fp16 subnormals, which a device
//                  may flush to 0 when unpacking (not seen for real weights: scales ~1e-3).
//   buffers.zeros  asym only: Uint32Array, zero points as bytes (out, nGroups) flat, packU8 layout
//                  (byte i in word i >> 2 at bits 8·(i & 3)). sym: absent, zero = 2^(bits−1).
//   buffers.gIdx   optional Uint32Array (in): group of each input column (GPTQ act-order); absent
//                  → group of column c is ⌊c / group⌋.
//   ŵ[o, c] = scale[o, g] · (q[o, c] − zero[o, g]),  g = gIdx ? gIdx[c] : ⌊c / group⌋.
//   The last group of a row is ragged when group does not divide in (uniform.ts).
//
// Codebook ('nf4' | 'fp4', bitsandbytes), any shape, flattened:
//   buffers.data   Uint32Array ⌈numel / 8⌉: two codes per byte, element 2i in the HIGH nibble;
//                  element e at word e >> 3, bit 8·((e >> 1) & 3) + (e & 1 ? 0 : 4).
//   scales         absmax per block of `group` (64) elements: scaleType 'f32' → Float32Array
//                  (⌈numel / group⌉); 'dq8' (double quantization) → Uint32Array of u8 codes into
//                  DYNAMIC_MAP (packU8 layout) with buffers.scales2 = Float32Array ⌈nBlocks / 256⌉
//                  and `scaleOffset`: absmax[b] = DYNAMIC_MAP[code[b]] · scales2[⌊b / 256⌋] + scaleOffset.
//   ŵ[e] = CODE[q[e]] · absmax[⌊e / group⌋]   (CODE = NF4_CODE or FP4_CODE, nf4.ts).

import { NibbleError } from '../errors.ts';
import {
  numel,
  type CodebookFormat,
  type CodebookQuantTensor,
  type QuantTensor,
  type Tensor,
  type UniformFormat,
  type UniformQuantTensor,
} from '../tensor.ts';
import { DYNAMIC_MAP } from './nf4.ts';
import { unpackF16Pairs, unpackU8, type PackBits } from './packing.ts';

export const UNIFORM_BITS: Readonly<Record<UniformFormat, PackBits>> = { q8: 8, q4: 4, q3: 3, q2: 2 };
export const uniformFormatForBits = (bits: number): UniformFormat | undefined =>
  (Object.keys(UNIFORM_BITS) as UniformFormat[]).find((f) => UNIFORM_BITS[f] === bits);
export const isUniformFormat = (f: string): f is UniformFormat => f in UNIFORM_BITS;
export const isCodebookFormat = (f: string): f is CodebookFormat => f === 'nf4' || f === 'fp4';

export const isQuantTensor = (t: Tensor): t is QuantTensor =>
  t.format !== 'f32' && t.format !== 'f16' && t.format !== 'llmint8';

/** Number of (scale, zero) groups per row of a uniform tensor, or of absmax blocks of a codebook one. */
export function scaleCount(t: QuantTensor): number {
  if (isUniformFormat(t.format)) return t.shape[0] * Math.ceil(t.shape[1] / t.group);
  return Math.ceil(numel(t.shape) / t.group);
}

/** Every scale (uniform: (out, nGroups); codebook: absmax per block) as f32, whatever the storage. */
export function unpackScales(t: QuantTensor): Float32Array {
  const n = scaleCount(t);
  const s = t.buffers.scales;
  switch (t.scaleType) {
    case 'f32':
      return s as Float32Array;
    case 'f16':
      return unpackF16Pairs(s as Uint32Array, n);
    case 'dq8': {
      const ct = t as CodebookQuantTensor;
      const codes = unpackU8(s as Uint32Array, n);
      const s2 = ct.buffers.scales2;
      if (!s2 || ct.scaleOffset === undefined)
        throw new NibbleError('bad-format', `${t.format} tensor: dq8 scales without scales2/scaleOffset`);
      const out = new Float32Array(n);
      for (let b = 0; b < n; b++)
        out[b] = Math.fround(Math.fround(DYNAMIC_MAP[codes[b]] * s2[b >> 8]) + ct.scaleOffset);
      return out;
    }
  }
}

/** Zero point of every (row, group) of a uniform tensor: (out, nGroups). */
export function unpackZeros(t: UniformQuantTensor): Uint8Array {
  const n = scaleCount(t);
  if (t.sym) return new Uint8Array(n).fill(2 ** (UNIFORM_BITS[t.format] - 1));
  if (!t.buffers.zeros) throw new NibbleError('bad-format', `${t.format} tensor: asymmetric without zero points`);
  return unpackU8(t.buffers.zeros, n);
}

/** Bytes the tensor's buffers occupy (what a GPU upload or a saved variant costs). */
export function weightBytes(t: Tensor): number {
  if (t.format === 'f32') return t.data.byteLength;
  if (t.format === 'f16') return 2 * numel(t.shape); // the pad half of an odd count is not counted
  const b = t.buffers;
  let n = b.data.byteLength + b.scales.byteLength;
  if ('zeros' in b && b.zeros) n += b.zeros.byteLength;
  if ('gIdx' in b && b.gIdx) n += b.gIdx.byteLength;
  if ('scales2' in b && b.scales2) n += b.scales2.byteLength + 4; // + the f32 offset
  return n;
}

/** Storage bits per weight, scales, zeros and padding included. */
export const bitsPerWeight = (t: Tensor): number => (8 * weightBytes(t)) / numel(t.shape);
