// 16-bit unquantized weights (tensor.ts F16Tensor): building them from f16 / bf16 / f32 values
// without an f32 copy of the whole tensor, and widening them back to f32 on demand (quantizers,
// CPU matmuls of one tensor at a time). Codes are packed two per word, element i in word i >> 1,
// low half first — the byte order of a little-endian Uint16Array, so an aligned even-length f16
// array is reinterpreted, not copied.
import { f16FromF32Bits } from './export/f16.ts';
import { f16ToNumber } from './hf/half.ts';
import { numel, type F16Tensor, type F32Tensor, type Tensor } from '../tensor.ts';

/**
 * bf16 values that f16 cannot hold exactly: |x| > 65504 (→ ±∞), 0 < |x| < 2^-25 (→ ±0), and
 * |x| < 2^-14 rounded to f16's subnormal grid (2^-24 steps). Every other bf16 value is exact in f16.
 */
export interface Bf16Narrowing {
  overflow: number;
  underflow: number;
  subnormal: number;
}

let widenTable: Float32Array | null = null; // (65536) f32 value of each f16 code

function table(): Float32Array {
  if (!widenTable) {
    widenTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) widenTable[h] = f16ToNumber(h);
  }
  return widenTable;
}

/** 16-bit codes (n) → packed words (⌈n / 2⌉); a zero-copy view when n is even and aligned. */
export function packCodes(codes: Uint16Array): Uint32Array {
  const n = codes.length;
  if (n % 2 === 0 && codes.byteOffset % 4 === 0) return new Uint32Array(codes.buffer, codes.byteOffset, n / 2);
  const out = new Uint32Array(Math.ceil(n / 2));
  new Uint16Array(out.buffer, 0, n).set(codes);
  return out;
}

/** The n codes of an f16 tensor as a Uint16Array view (little-endian words: element i at half i). */
export const f16Codes = (t: F16Tensor): Uint16Array =>
  new Uint16Array(t.data.buffer, t.data.byteOffset, numel(t.shape));

export function f16Tensor(shape: number[], data: Uint32Array): F16Tensor {
  const n = numel(shape);
  if (data.length !== Math.ceil(n / 2)) {
    throw new Error(`f16 tensor has ${data.length} words, shape [${shape}] needs ${Math.ceil(n / 2)}`);
  }
  return { format: 'f16', shape, data };
}

/** 16-bit little-endian codes at bytes[offset .. offset + 2n), copied into a fresh aligned array. */
function copyCodes(bytes: Uint8Array, offset: number, n: number): Uint16Array {
  const out = new Uint16Array(2 * Math.ceil(n / 2)); // whole words: the pad half stays 0
  new Uint8Array(out.buffer, 0, 2 * n).set(bytes.subarray(offset, offset + 2 * n));
  return out;
}

/** An F16 tensor from f16 codes in a file: one copy of its bytes, no f32 in between. */
export function f16TensorFromF16Bytes(shape: number[], bytes: Uint8Array, offset: number): F16Tensor {
  return f16Tensor(shape, new Uint32Array(copyCodes(bytes, offset, numel(shape)).buffer));
}

/** bf16 code → f16 code, nearest even; counts values f16 cannot hold in `note`. */
function bf16ToF16Code(b: number, note: Bf16Narrowing): number {
  const bits = b << 16;
  const h = f16FromF32Bits(bits >>> 0);
  const exp = (b >>> 7) & 0xff;
  if (exp !== 0xff && (h & 0x7c00) === 0x7c00)
    note.overflow++; // finite bf16 → ∞
  else if ((h & 0x7fff) === 0 && (b & 0x7fff) !== 0)
    note.underflow++; // nonzero → 0
  else if ((h & 0x7c00) === 0 && f16ToNumber(h) !== new Float32Array(new Uint32Array([bits >>> 0]).buffer)[0])
    note.subnormal++; // rounded on the subnormal grid
  return h;
}

/** An F16 tensor from bf16 codes (rounded to nearest even, 10 bits of mantissa from 7: exact in range). */
export function f16TensorFromBf16Bytes(
  shape: number[],
  bytes: Uint8Array,
  offset: number,
  note: Bf16Narrowing,
): F16Tensor {
  const codes = copyCodes(bytes, offset, numel(shape));
  for (let i = 0; i < codes.length; i++) codes[i] = bf16ToF16Code(codes[i], note);
  return f16Tensor(shape, new Uint32Array(codes.buffer));
}

/** An F16 tensor of f32 values (nearest even; |x| > 65504 → ±∞): writers, tests. */
export function f16TensorFromF32(shape: number[], x: Float32Array): F16Tensor {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const codes = new Uint16Array(2 * Math.ceil(x.length / 2));
  for (let i = 0; i < x.length; i++) codes[i] = f16FromF32Bits(bits[i]);
  return f16Tensor(shape, new Uint32Array(codes.buffer));
}

/** Every value of an F16 tensor as f32 (exact). */
export function widenF16(t: F16Tensor): F32Tensor {
  const codes = f16Codes(t);
  const w = table();
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = w[codes[i]];
  return { format: 'f32', shape: t.shape, data: out };
}

/** Values [from, from + n) of an F16 tensor as f32 (an embedding row). */
export function widenF16Range(t: F16Tensor, from: number, n: number): Float32Array {
  const codes = f16Codes(t);
  const w = table();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = w[codes[from + i]];
  return out;
}

/** A dense tensor as f32: itself when f32, widened when f16. */
export const denseF32 = (t: F32Tensor | F16Tensor): F32Tensor => (t.format === 'f32' ? t : widenF16(t));

export const isF16 = (t: Tensor): t is F16Tensor => t.format === 'f16';
