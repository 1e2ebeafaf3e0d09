// Q8_0 / Q4_0 blocks as our own quantized tensors, code for code (no dequantization):
//   Q8_0 x = qi · d, qi ∈ −128..127  →  q8, symmetric (zero 128): q = qi + 128, scale = d
//   Q4_0 x = (q − 8) · d, q ∈ 0..15   →  q4, symmetric (zero 8):   q = q,       scale = d
// one fp16 scale per 32 inputs of a row (group 32, scaleType 'f16'); Q4_0's d may be negative,
// which ŵ = scale · (q − zero) carries as is. Other types return null (the caller dequantizes).
import type { UniformQuantTensor } from '../../tensor.ts';
import { packRows } from '../../quant/packing.ts';
import { GgmlType, type GgufFile, type GgufTensorInfo } from './types.ts';

/** The tensor [rows, cols] (cols = ne[0]) as a q8/q4 UniformQuantTensor, or null for other types. */
export function nativeTensor(file: GgufFile, t: GgufTensorInfo, shape: [number, number]): UniformQuantTensor | null {
  if (t.type !== GgmlType.Q8_0 && t.type !== GgmlType.Q4_0) return null;
  const q8 = t.type === GgmlType.Q8_0;
  const size = q8 ? 34 : 18;
  const [rows, cols] = shape;
  const nb = t.numel / 32;
  const src = file.bytes.subarray(file.dataStart + t.offset, file.dataStart + t.offset + t.bytes);
  const codes = new Uint8Array(t.numel);
  const scales = new Uint32Array(Math.ceil(nb / 2)); // fp16 pairs: scale b in word b >> 1, half b & 1
  for (let b = 0; b < nb; b++) {
    const o = b * size;
    scales[b >> 1] |= (src[o] | (src[o + 1] << 8)) << (16 * (b & 1));
    for (let j = 0; j < 32; j++) {
      codes[b * 32 + j] = q8 ? (src[o + 2 + j] + 128) & 255 : j < 16 ? src[o + 2 + j] & 15 : src[o + 2 + j - 16] >> 4;
    }
  }
  return {
    format: q8 ? 'q8' : 'q4',
    shape,
    granularity: cols > 32 ? 'group' : 'row',
    group: 32,
    sym: true,
    scaleType: 'f16',
    buffers: { data: packRows(codes, rows, cols, q8 ? 8 : 4), scales },
  };
}
