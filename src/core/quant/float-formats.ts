// Small float formats: fp32 → fp16 / bf16 / tf32 / fp8 (E4M3, E5M2) and back, and fraction-bit
// truncation / rounding of fp32. All conversions round to nearest, ties to even, with subnormals.
//
// A code is the format's bit pattern as an unsigned integer: sign at bit (expBits + manBits),
// then the biased exponent, then the fraction. tf32 codes are 19 bits (1/8/10); its value in
// an fp32 register is the code shifted left by 13.
//
// Overflow (|x| rounds above the largest finite value, or x = ±∞):
//   'ieee'     → ±∞ where the format has it (fp16, bf16, tf32, E5M2), NaN for E4M3 (no ∞).
//              This is exactly PyTorch's `x.to(torch.float8_e4m3fn)` (|x| ≥ 464 → NaN 0x7f|s;
//              ±∞ → NaN) and `x.to(torch.float8_e5m2)` (|x| ≥ 61440 → ±∞ 0x7c|s).
//   'saturate' → ±max finite, also for ±∞ inputs (OCP FP8 saturating mode, PTX cvt .satfinite).
// Defaults: 'ieee' for fp16/bf16/tf32; 'saturate' for both fp8 formats (what weight/activation
// quantization wants; pass 'ieee' to reproduce PyTorch's casts bit for bit).
// NaN → the format's canonical positive NaN (fp8: all exponent and fraction bits set, 0x7f, as
// PyTorch; fp16/bf16/tf32: quiet NaN, top fraction bit set). A JS number cannot carry a NaN's sign;
// the bit-level truncate/round functions below do keep it.

export type FloatFormat = 'fp16' | 'bf16' | 'tf32' | 'fp8e4m3' | 'fp8e5m2';
export type Overflow = 'ieee' | 'saturate';

export interface FloatSpec {
  name: FloatFormat;
  expBits: number;
  manBits: number; // fraction bits
  bias: number;
  /** 'ieee': all-ones exponent is ∞ (fraction 0) or NaN. 'fn': finite only, NaN = all ones (E4M3FN). */
  special: 'ieee' | 'fn';
  nanCode: number; // canonical positive NaN code
  maxFinite: number;
  maxCode: number; // code of +maxFinite
  defaultOverflow: Overflow;
}

function spec(
  name: FloatFormat,
  expBits: number,
  manBits: number,
  special: 'ieee' | 'fn',
  nanCode: number,
  defaultOverflow: Overflow,
): FloatSpec {
  const bias = (1 << (expBits - 1)) - 1;
  const maxField = (1 << expBits) - 1;
  // Largest finite: ieee → exponent maxField−1, all-ones fraction; fn → exponent maxField, fraction all-ones minus 1.
  const maxFinite =
    special === 'ieee'
      ? (2 - 2 ** -manBits) * 2 ** (maxField - 1 - bias)
      : (2 - 2 * 2 ** -manBits) * 2 ** (maxField - bias);
  const maxCode =
    special === 'ieee'
      ? ((maxField - 1) << manBits) | ((1 << manBits) - 1)
      : (maxField << manBits) | ((1 << manBits) - 2);
  return { name, expBits, manBits, bias, special, nanCode, maxFinite, maxCode, defaultOverflow };
}

export const FLOAT_SPECS: Readonly<Record<FloatFormat, FloatSpec>> = {
  fp16: spec('fp16', 5, 10, 'ieee', 0x7e00, 'ieee'), // max 65504
  bf16: spec('bf16', 8, 7, 'ieee', 0x7fc0, 'ieee'), // max ≈ 3.39e38
  tf32: spec('tf32', 8, 10, 'ieee', 0x3fe00, 'ieee'), // max ≈ 3.40e38
  fp8e4m3: spec('fp8e4m3', 4, 3, 'fn', 0x7f, 'saturate'), // max 448, no ∞
  fp8e5m2: spec('fp8e5m2', 5, 2, 'ieee', 0x7f, 'saturate'), // max 57344
};

const scratch = new DataView(new ArrayBuffer(8));

/** floor(log2(a)) for a finite a > 0 that is a normal f64 (every f32 value is). */
function exponentOf(a: number): number {
  scratch.setFloat64(0, a);
  return ((scratch.getUint32(0) >>> 20) & 0x7ff) - 1023;
}

/** Value of a code (NaN, ±∞, ±0 included). Exact: every code's value is an f32 (and f64) number. */
export function decodeFloat(code: number, s: FloatSpec): number {
  const { expBits: eb, manBits: mb, bias } = s;
  const sign = (code >>> (eb + mb)) & 1 ? -1 : 1;
  const E = (code >>> mb) & ((1 << eb) - 1);
  const M = code & ((1 << mb) - 1);
  const maxField = (1 << eb) - 1;
  if (s.special === 'ieee' && E === maxField) return M === 0 ? sign * Infinity : NaN;
  if (s.special === 'fn' && E === maxField && M === (1 << mb) - 1) return NaN;
  if (E === 0) return sign * M * 2 ** (1 - bias - mb); // zero or subnormal
  return sign * (1 + M / 2 ** mb) * 2 ** (E - bias);
}

/** Code of x (a JS number, normally an f32 value) with round-to-nearest-even. */
export function encodeFloat(x: number, s: FloatSpec, overflow: Overflow = s.defaultOverflow): number {
  const { expBits: eb, manBits: mb, bias } = s;
  const signBit = x < 0 || Object.is(x, -0) ? 2 ** (eb + mb) : 0;
  if (Number.isNaN(x)) return s.nanCode; // a JS number NaN has no observable sign
  const a = Math.abs(x);
  const over = (): number => {
    if (overflow === 'saturate') return signBit + s.maxCode;
    if (s.special === 'ieee') return signBit + (((1 << eb) - 1) << mb); // ±∞
    return signBit + s.nanCode; // E4M3FN: NaN
  };
  if (a === Infinity) return over();
  if (a === 0) return signBit;
  // Quantum of a's binade, never below the subnormal quantum: a / q is exact (power-of-two scaling).
  const e = Math.max(exponentOf(a), 1 - bias);
  const q = 2 ** (e - mb);
  const n = roundToEvenInt(a / q);
  const v = n * q;
  if (v > s.maxFinite) return over();
  return signBit + encodeFinite(v, s);
}

/** Code of a finite v ≥ 0 that is exactly representable in s. */
function encodeFinite(v: number, s: FloatSpec): number {
  const { manBits: mb, bias } = s;
  if (v === 0) return 0;
  const e = exponentOf(v);
  if (e < 1 - bias) return v / 2 ** (1 - bias - mb); // subnormal: fraction = v / min quantum
  return ((e + bias) << mb) + (v / 2 ** (e - mb) - 2 ** mb);
}

// Integer nearest to y ≥ 0, ties to even (y < 2^53).
function roundToEvenInt(y: number): number {
  const f = Math.floor(y);
  const d = y - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/** x rounded to the format and back (fake quantization): a value of the format, as a number. */
export const roundToFloat = (x: number, s: FloatSpec, overflow?: Overflow): number =>
  decodeFloat(encodeFloat(x, s, overflow), s);

// ---- fp16 shorthands (scales, WGSL pack2x16float) ------------------------------------------------

export const f32ToF16Bits = (x: number): number => encodeFloat(x, FLOAT_SPECS.fp16);
export const f16BitsToF32 = (h: number): number => decodeFloat(h & 0xffff, FLOAT_SPECS.fp16);
/** x rounded to the nearest fp16 value (ties to even), returned as a number; overflow → ±∞. */
export const roundToF16 = (x: number): number => f16BitsToF32(f32ToF16Bits(x));

// ---- whole arrays -------------------------------------------------------------------------------

export type FloatCodes = Uint8Array | Uint16Array | Uint32Array;

/** Encodes every element: fp8 → Uint8Array, fp16/bf16 → Uint16Array, tf32 → Uint32Array (19-bit codes). */
export function encodeArray(x: Float32Array, format: FloatFormat, overflow?: Overflow): FloatCodes {
  const s = FLOAT_SPECS[format];
  const bits = 1 + s.expBits + s.manBits;
  const out = bits <= 8 ? new Uint8Array(x.length) : bits <= 16 ? new Uint16Array(x.length) : new Uint32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = encodeFloat(x[i], s, overflow);
  return out;
}

export function decodeArray(codes: FloatCodes, format: FloatFormat): Float32Array {
  const s = FLOAT_SPECS[format];
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = decodeFloat(codes[i], s);
  return out;
}

/** Round trip fp32 → format → fp32 for a whole array (what a model "stored in fp8" computes with). */
export function roundArrayToFloat(x: Float32Array, format: FloatFormat, overflow?: Overflow): Float32Array {
  const s = FLOAT_SPECS[format];
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = roundToFloat(x[i], s, overflow);
  return out;
}

// ---- fp32 fraction-bit truncation / rounding ----------------------------------------------------
// Both work on the raw u32 bit patterns (views on the same buffers), so no JS-number NaN
// canonicalization happens for finite values. NaN stays NaN: its output is the canonical quiet
// NaN 0x7fc00000 with the input's sign (a plain mask could turn a NaN into ∞). ±∞ stays ±∞.

const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0 || k > 23)
    throw new RangeError(`fraction bits k = ${k}: must be an integer in 0..23`);
}

/** Keeps the k most significant of the 23 fraction bits: bits & (0xffffffff << (23 − k)); exponent untouched. */
export function truncateFraction(x: Float32Array, k: number): Float32Array {
  checkK(k);
  const src = bitsOf(x);
  const out = new Float32Array(x.length);
  const dst = bitsOf(out);
  const mask = (0xffffffff << (23 - k)) >>> 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    dst[i] = isNanBits(b) ? ((b & 0x80000000) | 0x7fc00000) >>> 0 : (b & mask) >>> 0;
  }
  return out;
}

/**
 * Rounds to k fraction bits, nearest with ties to even, on the bit pattern: adds half an ulp of
 * bit (23 − k) minus one plus the kept lsb, then masks. A carry out of the fraction increments the
 * exponent (1.9999999 with k = 0 → 2); the largest finite values round up to ±∞ as IEEE does.
 * Subnormals round the same way (their ulp is the same bit). k = 7 is bf16 and k = 10 is tf32
 * rounding of the value. At k = 0 the "even" neighbour of a tie is the one whose exponent field
 * is even (the same bit rule: 1.5 → 2, 3 → 2, 6 → 8).
 */
export function roundFraction(x: Float32Array, k: number): Float32Array {
  checkK(k);
  const src = bitsOf(x);
  const out = new Float32Array(x.length);
  const dst = bitsOf(out);
  const shift = 23 - k;
  if (shift === 0) {
    dst.set(src);
    return out;
  }
  const mask = (0xffffffff << shift) >>> 0;
  const halfMinus1 = 2 ** (shift - 1) - 1;
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    if (isNanBits(b)) {
      dst[i] = ((b & 0x80000000) | 0x7fc00000) >>> 0;
      continue;
    }
    if ((b & 0x7fffffff) === 0x7f800000) {
      dst[i] = b;
      continue;
    } // ±∞
    const lsb = (b >>> shift) & 1;
    dst[i] = ((b + halfMinus1 + lsb) & mask) >>> 0; // b + … < 2^32 for every finite b
  }
  return out;
}

const isNanBits = (b: number): boolean => (b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0;
