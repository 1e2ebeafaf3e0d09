// IEEE binary16 (f16) and bfloat16 (bf16) → f32, exact for every code: ±0, subnormals, normals,
// ±∞ and NaN (bf16 keeps the NaN payload bits; f16 NaN becomes a quiet f32 NaN).
// Input is little-endian 16-bit codes at any byte offset.

let f16Table: Float32Array | null = null; // (65536) value of each f16 code, built on first use

/** Value of one f16 code: sign · 2^(E−15) · (1 + M/1024), subnormal M · 2^−24, E = 31 → ∞/NaN. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToNumber(h);
  }
  return f16Table;
}

/** 16-bit little-endian codes at bytes[offset .. offset + 2n) as a Uint16Array (a view when aligned). */
function codes16(bytes: Uint8Array, offset: number, n: number): Uint16Array {
  const at = bytes.byteOffset + offset;
  if (at % 2 === 0) return new Uint16Array(bytes.buffer, at, n);
  const copy = new Uint16Array(n); // unaligned: copy the bytes once (2n bytes ≤ the tensor)
  new Uint8Array(copy.buffer).set(bytes.subarray(offset, offset + 2 * n));
  return copy;
}

/** n f16 values at bytes[offset ..] → a new Float32Array (n). */
export function f16ToF32(bytes: Uint8Array, offset: number, n: number): Float32Array {
  const src = codes16(bytes, offset, n);
  const t = table();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = t[src[i]];
  return out;
}

/** n bf16 values at bytes[offset ..] → a new Float32Array (n): bf16 is the top half of an f32. */
export function bf16ToF32(bytes: Uint8Array, offset: number, n: number): Float32Array {
  const src = codes16(bytes, offset, n);
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  return out;
}

/** f32 → bf16 code with round-to-nearest-even (NaN stays NaN): the writer side, for fixtures. */
export function f32ToBf16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  if (Number.isNaN(x)) return ((u >>> 16) | 0x40) & 0xffff; // keep it a (quiet) NaN
  const rounded = u + 0x7fff + ((u >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}
