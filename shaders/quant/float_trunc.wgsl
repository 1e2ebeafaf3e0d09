// float_trunc — fp32 fraction-bit truncation / rounding to k of the 23 fraction bits, on the
// bit patterns, bit-identical to src/core/quant/float-formats.ts:
//   mode 0 truncateFraction: bits & (0xffffffff << (23 − k)); exponent untouched
//   mode 1 roundFraction:    nearest, ties to even: (bits + 2^(22−k) − 1 + lsb) & mask, a carry
//                            increments the exponent (the largest finite values → ±∞); ±∞
//                            stay ±∞; k = 23 is the identity on every pattern (NaN included)
// NaN otherwise → the quiet NaN 0x7fc00000 with the input's sign.
//
// Bindings (group 0):
//   0 uniform  Params {n, k, mode}
//   1 read     x:   array<u32>   (n) f32 bit patterns
//   2 rw       out: array<u32>   (n); may not alias x
// Dispatch: ceil(n / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per element.

fn item_count() -> u32 {
  return p.n;
}

fn item(i: u32) {
  let b = x[i];
  let mag = b & 0x7fffffffu;
  let shift = 23u - min(p.k, 23u);
  if (p.mode == 1u && shift == 0u) {
    out[i] = b; // roundFraction(x, 23) copies every pattern, NaN payloads included
    return;
  }
  if (mag > 0x7f800000u) {
    out[i] = (b & 0x80000000u) | 0x7fc00000u;
    return;
  }
  if (shift == 0u) {
    out[i] = b;
    return;
  }
  let mask = 0xffffffffu << shift;
  if (p.mode == 0u || mag == 0x7f800000u) {
    out[i] = b & mask;
    return;
  }
  let lsb = (b >> shift) & 1u;
  out[i] = (b + ((1u << (shift - 1u)) - 1u) + lsb) & mask;
}
