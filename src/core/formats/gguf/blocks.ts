// ggml block codecs: decoders for every type the reader accepts (F32, F16, BF16, Q8_0, Q4_0,
// Q4_1, Q4_K, Q6_K) and encoders for the two block types the writer emits (Q8_0, Q4_0), exactly as
// docs/formats.md states them. All arithmetic is f32 (Math.fround) as ggml's C code does it.
//
// Q8_0 (32 values, 34 bytes):  f16 d | i8 q[32]        d = amax / 127, q = roundf(x / d), x = q·d
// Q4_0 (32 values, 18 bytes):  f16 d | u8 qs[16]       d = max / −8 (max: the signed value of largest
//        magnitude, the first one on ties), q = min(15, trunc(x / d + 8.5)),
//        qs[j] = q[j] | q[j + 16] << 4, x = (q − 8)·d
// Q4_1 (32 values, 20 bytes):  f16 d, m | u8 qs[16]    x = q·d + m (same nibble order)
// Q4_K (256 values, 144 bytes): f16 d, dmin | u8 scales[12] | u8 qs[128]; 8 sub-blocks of 32 with
//        6-bit (sc, m); x = d·sc·q − dmin·m; each 64-value chunk: 32 bytes, low nibbles = values
//        0–31, high nibbles = values 32–63.
// Q6_K (256 values, 210 bytes): u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d; per 128-value half
//        (ql += 64, qh += 32, sc += 8), for l in 0..31 (is = l / 16):
//          q1 = (ql[l] & 15 | ((qh[l] >> 0) & 3) << 4) − 32 → y[l]      · sc[is]
//          q2 = (ql[l+32] & 15 | ((qh[l] >> 2) & 3) << 4) − 32 → y[l+32] · sc[is + 2]
//          q3 = (ql[l] >> 4 | ((qh[l] >> 4) & 3) << 4) − 32 → y[l+64]   · sc[is + 4]
//          q4 = (ql[l+32] >> 4 | ((qh[l] >> 6) & 3) << 4) − 32 → y[l+96] · sc[is + 6]
//        y = d · sc · q   (ggml-quants.c dequantize_row_q6_K)
// The encoders quantize with the f32 d and store it rounded to f16 (round to nearest even), as
// ggml does. ggml's reference multiplies by id = 1/d where formats.md divides by d; we follow the
// doc (the two can differ by one code only where x·(1/d) and x/d straddle a rounding boundary).
import { NibbleError } from '../../errors.ts';
import { f16BitsToF32, f32ToF16Bits } from '../../quant/float-formats.ts';
import { roundf } from '../../quant/rounding.ts';
import { GgmlType, GGML_TYPES } from './types.ts';

const f32 = Math.fround;
export const QK = 32; // Q8_0 / Q4_0 / Q4_1 block
export const QK_K = 256; // k-quant super-block

/** fp16 bits → f32 for all 65536 codes (256 KiB, built once at import: F16 tensors decode per element). */
const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) t[i] = f16BitsToF32(i);
  return t;
})();
const f16 = (h: number): number => F16_TABLE[h];

/** Decodes `numel` values of ggml type `type` from `src` (exactly ggmlBytes(type, numel) bytes). */
export function dequantize(type: GgmlType, src: Uint8Array, numel: number): Float32Array {
  const { blockSize, typeSize } = GGML_TYPES[type];
  if (numel % blockSize !== 0 || src.byteLength !== (numel / blockSize) * typeSize) {
    throw new NibbleError(
      'bad-argument',
      `dequantize ${GGML_TYPES[type].name}: ${src.byteLength} bytes for ${numel} values`,
    );
  }
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const out = new Float32Array(numel);
  const nb = numel / blockSize;
  switch (type) {
    case GgmlType.F32:
      new Uint8Array(out.buffer).set(src);
      break;
    case GgmlType.F16:
      for (let i = 0; i < numel; i++) out[i] = f16(dv.getUint16(2 * i, true));
      break;
    case GgmlType.BF16:
      for (let i = 0; i < numel; i++) out[i] = bf16(dv.getUint16(2 * i, true));
      break;
    case GgmlType.Q8_0:
      for (let b = 0; b < nb; b++) {
        const o = b * 34;
        const d = f16(dv.getUint16(o, true));
        for (let j = 0; j < 32; j++) out[b * 32 + j] = f32(dv.getInt8(o + 2 + j) * d);
      }
      break;
    case GgmlType.Q4_0:
    case GgmlType.Q4_1:
      for (let b = 0; b < nb; b++) {
        const o = b * typeSize;
        const d = f16(dv.getUint16(o, true));
        const m = type === GgmlType.Q4_1 ? f16(dv.getUint16(o + 2, true)) : 0;
        const qs = o + typeSize - 16;
        for (let j = 0; j < 16; j++) {
          const byte = src[qs + j];
          if (type === GgmlType.Q4_0) {
            out[b * 32 + j] = f32(((byte & 15) - 8) * d);
            out[b * 32 + j + 16] = f32(((byte >> 4) - 8) * d);
          } else {
            out[b * 32 + j] = f32(f32((byte & 15) * d) + m);
            out[b * 32 + j + 16] = f32(f32((byte >> 4) * d) + m);
          }
        }
      }
      break;
    case GgmlType.Q4_K:
      for (let b = 0; b < nb; b++) decodeQ4K(src, dv, b * 144, out, b * 256);
      break;
    case GgmlType.Q6_K:
      for (let b = 0; b < nb; b++) decodeQ6K(src, dv, b * 210, out, b * 256);
      break;
  }
  return out;
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
function bf16(h: number): number {
  bf16Scratch.setUint32(0, h << 16);
  return bf16Scratch.getFloat32(0);
}

/** 6-bit (scale, min) of sub-block j from the 12 packed bytes at s (ggml get_scale_min_k4). */
function scaleMinK4(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j] & 63, src[s + j + 4] & 63];
  return [(src[s + j + 4] & 15) | ((src[s + j - 4] >> 6) << 4), (src[s + j + 4] >> 4) | ((src[s + j] >> 6) << 4)];
}

function decodeQ4K(src: Uint8Array, dv: DataView, o: number, out: Float32Array, y: number): void {
  const d = f16(dv.getUint16(o, true));
  const dmin = f16(dv.getUint16(o + 2, true));
  const scales = o + 4;
  let q = o + 16;
  for (let j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
    const [sc1, m1] = scaleMinK4(src, scales, is);
    const [sc2, m2] = scaleMinK4(src, scales, is + 1);
    const [d1, min1, d2, min2] = [f32(d * sc1), f32(dmin * m1), f32(d * sc2), f32(dmin * m2)];
    for (let l = 0; l < 32; l++) out[y + j + l] = f32(f32(d1 * (src[q + l] & 15)) - min1);
    for (let l = 0; l < 32; l++) out[y + j + 32 + l] = f32(f32(d2 * (src[q + l] >> 4)) - min2);
  }
}

function decodeQ6K(src: Uint8Array, dv: DataView, o: number, out: Float32Array, y: number): void {
  const d = f16(dv.getUint16(o + 208, true));
  for (let n = 0; n < 2; n++) {
    const ql = o + 64 * n;
    const qh = o + 128 + 32 * n;
    const sc = o + 192 + 8 * n;
    const yb = y + 128 * n;
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const h = src[qh + l];
      const q1 = ((src[ql + l] & 15) | ((h & 3) << 4)) - 32;
      const q2 = ((src[ql + l + 32] & 15) | (((h >> 2) & 3) << 4)) - 32;
      const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
      const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
      out[yb + l] = f32(f32(d * dv.getInt8(sc + is)) * q1);
      out[yb + l + 32] = f32(f32(d * dv.getInt8(sc + is + 2)) * q2);
      out[yb + l + 64] = f32(f32(d * dv.getInt8(sc + is + 4)) * q3);
      out[yb + l + 96] = f32(f32(d * dv.getInt8(sc + is + 6)) * q4);
    }
  }
}

function checkBlocks(what: string, x: Float32Array): void {
  if (x.length % QK !== 0)
    throw new NibbleError('bad-argument', `${what}: ${x.length} values are not whole blocks of ${QK}`);
}

function checkFinite(what: string, v: number, b: number): void {
  if (!Number.isFinite(v)) throw new NibbleError('bad-argument', `${what}: block ${b} holds a non-finite value`);
}

/** f32 values (a multiple of 32) → Q8_0 blocks. */
export function encodeQ8_0(x: Float32Array): Uint8Array {
  checkBlocks('Q8_0', x);
  const out = new Uint8Array((x.length / QK) * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < x.length / QK; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]));
    checkFinite('Q8_0', amax, b);
    const d = f32(amax / 127);
    dv.setUint16(b * 34, f32ToF16Bits(d), true);
    for (let j = 0; j < QK; j++) dv.setInt8(b * 34 + 2 + j, d === 0 ? 0 : roundf(f32(x[b * QK + j] / d)));
  }
  return out;
}

/** f32 values (a multiple of 32) → Q4_0 blocks. */
export function encodeQ4_0(x: Float32Array): Uint8Array {
  checkBlocks('Q4_0', x);
  const out = new Uint8Array((x.length / QK) * 18);
  const dv = new DataView(out.buffer);
  const q = new Uint8Array(QK);
  for (let b = 0; b < x.length / QK; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    for (let j = 0; j < QK; j++) checkFinite('Q4_0', x[b * QK + j], b);
    const d = f32(max / -8);
    dv.setUint16(b * 18, f32ToF16Bits(d), true);
    for (let j = 0; j < QK; j++) q[j] = d === 0 ? 8 : Math.min(15, Math.trunc(f32(f32(x[b * QK + j] / d) + 8.5)));
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = q[j] | (q[j + 16] << 4);
  }
  return out;
}
