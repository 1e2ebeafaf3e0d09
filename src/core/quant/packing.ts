// Bit packing of quantization codes into u32 words: the storage WGSL kernels read.
// All words are little-endian u32 (a Uint32Array uploaded as is). "Value j" is the j-th code of
// a row (column j of a [out, in] matrix). Codes are unsigned: 0..2^bits − 1.
//
// Uniform codes, one row after another, each row padded to whole words (padding codes are 0):
//   8-bit: 4 per u32,  value j in word j >> 2, bits 8·(j & 3)   .. +7     wordsPerRow = ⌈in/4⌉
//   4-bit: 8 per u32,  value j in word j >> 3, bits 4·(j & 7)   .. +3     wordsPerRow = ⌈in/8⌉
//          (low nibble first)
//   2-bit: 16 per u32, value j in word j >> 4, bits 2·(j & 15)  .. +1     wordsPerRow = ⌈in/16⌉
//   3-bit: bit planes, 32 values per 3 words (exactly 3 bits/weight):      wordsPerRow = 3·⌈in/32⌉
//          block b = j >> 5, k = j & 31, words w0 w1 w2 = row[3b], row[3b+1], row[3b+2]:
//            low 2 bits of value k: word 3b + (k >> 4), bits 2·(k & 15) .. +1
//            high bit (bit 2)     : word 3b + 2,        bit k
//          decode: q = ((row[3b + (k >> 4)] >> (2·(k & 15))) & 3) | (((row[3b + 2] >> k) & 1) << 2)
// Word of value j in row r = r·wordsPerRow + (word within the row, above).
//
// Flat byte streams (no per-row padding), 4 bytes per u32, byte i in word i >> 2, bits 8·(i & 3):
//   `packU8` (zero points, double-quantized absmax codes); on a little-endian host this is the
//   same memory as a Uint8Array of the bytes.
// bitsandbytes 4-bit (NF4/FP4), flat over the whole tensor: two codes per byte, element 2i in the
//   HIGH nibble of byte i, element 2i+1 in the low nibble; bytes packed as in packU8. So element e
//   is in word e >> 3 at bit 8·((e >> 1) & 3) + (e & 1 ? 0 : 4). An odd count pads a low nibble.
// f16 pairs (`packF16Pairs`): value 2i in bits 0..15 and value 2i+1 in bits 16..31 of word i,
//   identical to WGSL pack2x16float / unpack2x16float(word)[i & 1]; an odd count pads +0.

import { NibbleError } from '../errors.ts';
import { f16BitsToF32, f32ToF16Bits } from './float-formats.ts';

export type PackBits = 2 | 3 | 4 | 8;
export const PACK_BITS: readonly PackBits[] = [2, 3, 4, 8];

/** u32 words one packed row of n codes occupies. */
export function wordsPerRow(bits: PackBits, n: number): number {
  switch (bits) {
    case 8:
      return Math.ceil(n / 4);
    case 4:
      return Math.ceil(n / 8);
    case 2:
      return Math.ceil(n / 16);
    case 3:
      return 3 * Math.ceil(n / 32);
  }
}

/** Storage bits per weight of a row of n codes, padding included. */
export const packedBitsPerWeight = (bits: PackBits, n: number): number => (32 * wordsPerRow(bits, n)) / n;

function checkBits(bits: number): asserts bits is PackBits {
  if (bits !== 2 && bits !== 3 && bits !== 4 && bits !== 8) {
    throw new NibbleError('unsupported', `packing: ${bits}-bit codes are not packable (2, 3, 4 or 8)`);
  }
}

/** Writes code q (0 ≤ q < 2^bits) as value j of the row starting at word `row`. Words must start zeroed. */
function putCode(out: Uint32Array, row: number, j: number, q: number, bits: PackBits): void {
  if (bits === 3) {
    const b = row + 3 * (j >> 5);
    const k = j & 31;
    out[b + (k >> 4)] |= (q & 3) << (2 * (k & 15));
    out[b + 2] |= ((q >> 2) & 1) << k;
    return;
  }
  const per = 32 / bits;
  out[row + Math.floor(j / per)] |= q << (bits * (j % per));
}

/** Value j of the packed row starting at word `row`: the decode each WGSL kernel implements. */
export function readCode(data: Uint32Array, row: number, j: number, bits: PackBits): number {
  if (bits === 3) {
    const b = row + 3 * (j >> 5);
    const k = j & 31;
    return ((data[b + (k >> 4)] >>> (2 * (k & 15))) & 3) | (((data[b + 2] >>> k) & 1) << 2);
  }
  const per = 32 / bits;
  return (data[row + Math.floor(j / per)] >>> (bits * (j % per))) & ((1 << bits) - 1);
}

/** codes (rows, cols), one byte per code → packed (rows, wordsPerRow(bits, cols)) u32 words. */
export function packRows(codes: Uint8Array, rows: number, cols: number, bits: number): Uint32Array {
  checkBits(bits);
  if (codes.length !== rows * cols)
    throw new NibbleError('bad-argument', `packRows: ${codes.length} codes for a ${rows}×${cols} matrix`);
  const wpr = wordsPerRow(bits, cols);
  const maxq = (1 << bits) - 1;
  const out = new Uint32Array(rows * wpr);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const q = codes[r * cols + j];
      if (q > maxq)
        throw new NibbleError('bad-argument', `packRows: code ${q} at (${r}, ${j}) does not fit ${bits} bits`);
      putCode(out, r * wpr, j, q, bits);
    }
  }
  return out;
}

/** Inverse of packRows: (rows, cols) codes, one byte each. */
export function unpackRows(data: Uint32Array, rows: number, cols: number, bits: number): Uint8Array {
  checkBits(bits);
  const wpr = wordsPerRow(bits, cols);
  if (data.length !== rows * wpr)
    throw new NibbleError(
      'bad-argument',
      `unpackRows: ${data.length} words, a ${rows}×${cols} ${bits}-bit matrix needs ${rows * wpr}`,
    );
  const out = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) out[r * cols + j] = readCode(data, r * wpr, j, bits);
  }
  return out;
}

/** Flat bytes (each 0..255) → ⌈n/4⌉ words, byte i at bits 8·(i & 3) of word i >> 2. */
export function packU8(values: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 4));
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= 0 && v <= 255 && Number.isInteger(v)))
      throw new NibbleError('bad-argument', `packU8: value ${v} at ${i} is not a byte`);
    out[i >> 2] |= v << (8 * (i & 3));
  }
  return out;
}

export function unpackU8(data: Uint32Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (data[i >> 2] >>> (8 * (i & 3))) & 0xff;
  return out;
}

/** bitsandbytes nibble order: codes (n) → ⌈n/8⌉ words, element 2i in the high nibble of byte i. */
export function packNibblesHighFirst(codes: Uint8Array, padCode = 0): Uint32Array {
  const n = codes.length;
  const out = new Uint32Array(Math.ceil(n / 8));
  for (let e = 0; e < n + (n & 1); e++) {
    const q = e < n ? codes[e] : padCode;
    if (q > 15) throw new NibbleError('bad-argument', `packNibblesHighFirst: code ${q} at ${e} does not fit 4 bits`);
    out[e >> 3] |= q << nibbleShift(e);
  }
  return out;
}

/** Bit offset of element e in its word under the bitsandbytes nibble order. */
export const nibbleShift = (e: number): number => 8 * ((e >> 1) & 3) + (e & 1 ? 0 : 4);

export function unpackNibblesHighFirst(data: Uint32Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let e = 0; e < n; e++) out[e] = (data[e >> 3] >>> nibbleShift(e)) & 15;
  return out;
}

/** f32 values → fp16 pairs (round to nearest even; |x| > 65504 → ±∞), as WGSL pack2x16float. */
export function packF16Pairs(values: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1] |= f32ToF16Bits(values[i]) << (16 * (i & 1));
  return out;
}

/** The first n values of fp16 pairs, as WGSL unpack2x16float. */
export function unpackF16Pairs(data: Uint32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f16BitsToF32((data[i >> 1] >>> (16 * (i & 1))) & 0xffff);
  return out;
}
