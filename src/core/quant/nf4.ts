// NF4 and FP4 as bitsandbytes (QLoRA) does them, and bitsandbytes' double quantization of the
// block absmax values. CPU twins of bnb's CUDA kernels (csrc kQuantizeBlockwise, dQuantizeNF4,
// dQuantizeFP4, dQuantize), reproduced in f32:
//   blocks of B (64) consecutive elements of the FLATTENED tensor (blocks cross rows);
//   absmax[b] = max |x| over the block (f32); x̂ = x · (1 / absmax) in f32;
//   code = the nearest of 16 values, decided by bnb's midpoint thresholds with a strict `>`
//   (a value exactly on a midpoint takes the LOWER code); dequantized value = table[code] · absmax.
// Packing (two codes per byte, first element in the HIGH nibble) is in packing.ts.
// One deliberate difference: a block that is all zeros (absmax 0) gets the code of 0 (NF4 7,
// FP4 0); bnb computes 0 · (1/0) = NaN there and stores code 0. Both dequantize to 0.

import { NibbleError } from '../errors.ts';

const f32 = Math.fround;

export type CodebookFormat = 'nf4' | 'fp4';

/** NF4 code values (index = 4-bit code), from docs/quantization.md / bnb's nf4 LUT. */
export const NF4_CODE = Float32Array.from([
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1,
]);

/**
 * bnb FP4 (e2m1, bias 3, with a 0.0625 subnormal), normalized by its max 12. Code = s·8 + e·2 + m
 * with the magnitude order 0b000 0, 0b001 0.0625, 0b110 2, 0b111 3, 0b100 4, 0b101 6, 0b010 8,
 * 0b011 12 (all /12). Values as bnb's dDequantizeFP4Tree f32 constants; code 8 is −0.
 */
export const FP4_CODE = Float32Array.from([
  0, 5.208333333e-3, 0.66666667, 1, 0.33333333, 0.5, 0.16666667, 0.25, -0, -5.208333333e-3, -0.66666667, -1,
  -0.33333333, -0.5, -0.16666667, -0.25,
]);

/** bnb dQuantizeNF4 thresholds (f32), ascending; value > T[i] ⇒ code > i. */
export const NF4_THRESHOLDS = Float32Array.from([
  -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544, -0.23460740596055984,
  -0.13791173323988914, -0.045525018125772476, 0.03979014977812767, 0.1202552504837513, 0.2035212516784668,
  0.2920137718319893, 0.3893125355243683, 0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
]);

/** bnb dQuantizeFP4 thresholds on |x| (f32), ascending, with the code magnitude each opens. */
const FP4_THRESHOLDS = Float32Array.from([
  0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333,
]);
const FP4_MAGNITUDE_CODES = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011];

/** NF4 code of a normalized value x ∈ [−1, 1] (bnb's decision tree: the count of thresholds below x). */
export function quantizeNF4Value(x: number): number {
  let code = 0;
  while (code < 15 && x > NF4_THRESHOLDS[code]) code++;
  return code;
}

/** FP4 code of a normalized value: sign bit from x < 0 (−0 counts as +), magnitude by thresholds. */
export function quantizeFP4Value(x: number): number {
  const sign = x < 0 ? 8 : 0;
  const a = Math.abs(x);
  let i = 0;
  while (i < 7 && a > FP4_THRESHOLDS[i]) i++;
  return sign + FP4_MAGNITUDE_CODES[i];
}

export const codeTable = (kind: CodebookFormat): Float32Array => (kind === 'nf4' ? NF4_CODE : FP4_CODE);
const quantizeCode = (kind: CodebookFormat): ((x: number) => number) =>
  kind === 'nf4' ? quantizeNF4Value : quantizeFP4Value;

export interface Blockwise4bit {
  kind: CodebookFormat;
  n: number; // elements
  blockSize: number; // B
  codes: Uint8Array; // (n), each 0..15
  absmax: Float32Array; // (⌈n / B⌉)
}

/** bnb quantize_4bit over the flattened x. */
export function quantize4bit(x: Float32Array, kind: CodebookFormat, blockSize = 64): Blockwise4bit {
  if (!Number.isInteger(blockSize) || blockSize < 1)
    throw new NibbleError('bad-argument', `4-bit block size ${blockSize}: must be an integer ≥ 1`);
  const n = x.length;
  const nBlocks = Math.ceil(n / blockSize);
  const codes = new Uint8Array(n);
  const absmax = new Float32Array(nBlocks);
  const quant = quantizeCode(kind);
  for (let b = 0; b < nBlocks; b++) {
    const start = b * blockSize;
    const end = Math.min(start + blockSize, n);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(x[i]));
    if (!Number.isFinite(m)) throw new NibbleError('bad-argument', `${kind}: non-finite value in block ${b}`);
    absmax[b] = m;
    const inv = m === 0 ? 0 : f32(1 / m);
    for (let i = start; i < end; i++) codes[i] = quant(f32(x[i] * inv));
  }
  return { kind, n, blockSize, codes, absmax };
}

/** x̂[i] = table[code[i]] · absmax[⌊i / B⌋] in f32. */
export function dequantize4bit(q: Pick<Blockwise4bit, 'kind' | 'blockSize' | 'codes' | 'absmax'>): Float32Array {
  const table = codeTable(q.kind);
  const out = new Float32Array(q.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = f32(table[q.codes[i]] * q.absmax[Math.floor(i / q.blockSize)]);
  return out;
}

// ---- bitsandbytes "dynamic" 8-bit map and blockwise 8-bit quantization (for double quant) --------

/** torch.linspace(start, end, steps) in float32, as ATen's CPU kernel computes it. */
function linspaceF32(start: number, end: number, steps: number): number[] {
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) out.push(i < half ? f32(s + f32(step * i)) : f32(e - f32(step * (steps - 1 - i))));
  return out;
}

/**
 * bnb create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 ascending values in
 * [−0.99297, 1]: for i = 0..6, ±10^(i−6) · midpoints of linspace(0.1, 1, 2^i + 1); then 0 and 1.
 * Reproduced in f32 arithmetic; may differ from bnb's tensor in the last ulp of a few entries.
 */
export const DYNAMIC_MAP: Float32Array = (() => {
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const b = linspaceF32(0.1, 1, 2 ** i + 1);
    const p = f32(10 ** (i - 6));
    for (let j = 0; j + 1 < b.length; j++) {
      const mean = f32(f32(b[j] + b[j + 1]) / 2);
      data.push(f32(p * mean), -f32(p * mean));
    }
  }
  data.push(0, 1);
  return Float32Array.from(data.sort((a, b) => a - b));
})();

/** bnb dQuantize<0>: binary search over the 256-entry sorted code with midpoint tie rules. */
export function quantizeDynamic(code: Float32Array, x: number): number {
  let pivot = 127;
  let upperPivot = 255;
  let lowerPivot = 0;
  let lower = -1;
  let upper = 1;
  let val = code[pivot];
  for (let i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lowerPivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upperPivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = code[pivot];
  }
  if (upperPivot === 255) upper = code[upperPivot];
  if (lowerPivot === 0) lower = code[lowerPivot];
  if (x > val) return x > f32(f32(upper + val) * 0.5) ? upperPivot : pivot;
  return x < f32(f32(lower + val) * 0.5) ? lowerPivot : pivot;
}

export interface DoubleQuant {
  blockSize2: number; // 256
  codes: Uint8Array; // (nBlocks): dynamic-map codes of absmax − offset
  absmax2: Float32Array; // (⌈nBlocks / 256⌉)
  offset: number; // mean of the absmax values (f32)
}

/** bnb compress_statistics: offset = mean(absmax); quantize_blockwise(absmax − offset, 256). */
export function doubleQuantize(absmax: Float32Array, blockSize2 = 256): DoubleQuant {
  let sum = 0;
  for (const a of absmax) sum += a;
  const offset = f32(absmax.length ? sum / absmax.length : 0);
  const n = absmax.length;
  const codes = new Uint8Array(n);
  const absmax2 = new Float32Array(Math.ceil(n / blockSize2));
  for (let b = 0; b < absmax2.length; b++) {
    const start = b * blockSize2;
    const end = Math.min(start + blockSize2, n);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(f32(absmax[i] - offset)));
    absmax2[b] = m;
    const inv = m === 0 ? 0 : f32(1 / m);
    for (let i = start; i < end; i++) codes[i] = quantizeDynamic(DYNAMIC_MAP, f32(f32(absmax[i] - offset) * inv));
  }
  return { blockSize2, codes, absmax2, offset };
}

/** absmax[b] = DYNAMIC_MAP[codes[b]] · absmax2[⌊b / 256⌋] + offset, in f32. */
export function doubleDequantize(dq: DoubleQuant): Float32Array {
  const out = new Float32Array(dq.codes.length);
  for (let b = 0; b < out.length; b++)
    out[b] = f32(f32(DYNAMIC_MAP[dq.codes[b]] * dq.absmax2[Math.floor(b / dq.blockSize2)]) + dq.offset);
  return out;
}
