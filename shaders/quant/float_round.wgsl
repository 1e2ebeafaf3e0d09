// float_round — fake quantization to a small float format: each f32 x is rounded to the format
// (nearest, ties to even, with the format's subnormals) and written back as an f32 value,
// bit-identical to src/core/quant/float-formats.ts roundArrayToFloat (roundToFloat):
//   |x| rounded to `mb` fraction bits with quantum floor 2^(emin − mb), emin = 1 − bias
//   result > max_bits (the format's largest finite) or x = ±∞ → by `overflow`:
//     0 ±∞ (fp16, bf16, tf32, E5M2 'ieee')   1 NaN (E4M3 'ieee': no ∞)   2 ±max finite ('saturate')
//   NaN → 0x7fc00000 (the canonical NaN a Float32Array stores); the sign is kept otherwise
//   (−0 and values rounding to 0 stay negative), as decodeFloat(encodeFloat(x)) does.
// All arithmetic is on u32 bit patterns (quant_softfloat.wgsl), so f32 subnormal inputs and
// results (bf16, tf32) are exact even where the device flushes subnormals.
//
// Bindings (group 0):
//   0 uniform  Params {n, mb, emin (i32), max_bits, overflow}
//   1 read     x:   array<u32>   (n) f32 bit patterns
//   2 rw       out: array<u32>   (n) f32 bit patterns; may not alias x
// Dispatch: ceil(n / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per element.

const NAN = 0x7fc00000u;
const INF = 0x7f800000u;

fn item_count() -> u32 {
  return p.n;
}

fn item(i: u32) {
  let b = x[i];
  let sign = b & 0x80000000u;
  let mag = b & 0x7fffffffu;
  if (mag > INF) {
    out[i] = NAN;
    return;
  }
  var r = INF;
  if (mag < INF) {
    r = sf_round_to(mag, p.mb, p.emin);
  }
  if (r > p.max_bits) {
    switch (p.overflow) {
      case 0u: {
        r = INF;
      }
      case 1u: {
        out[i] = NAN;
        return;
      }
      default: {
        r = p.max_bits;
      }
    }
  }
  out[i] = sign | r;
}
