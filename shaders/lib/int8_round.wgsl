// int8_round — LIBRARY, not a kernel: the exact round-half-even of v · 127 / amax to int8 used
// by the LLM.int8 activations (matmul_gemv_llmint8, matmul_prep_llmint8), equal to the CPU twin
// (src/core/quant/llmint8.ts); prepended by the kernel table (src/gpu/kernel-table.ts).
// Self-contained: uses nothing from the kernel.

// (integer mantissa, biased exponent >= 1) of a finite f32 a >= 0: a = m · 2^(e − 150).
fn mant_exp(a: f32) -> vec2u {
  let b = bitcast<u32>(a);
  let e = (b >> 23u) & 255u;
  return vec2u((b & 0x7fffffu) | select(0u, 0x800000u, e != 0u), max(e, 1u));
}

// round_half_even(v · 127 / amax) for |v| <= amax, amax > 0, decided exactly: the f32 quotient
// gives a candidate c = ⌊|r|⌋ (possibly off by one only next to an integer, where it does not
// matter); |r| against c + 1/2 is 254·|v| against (2c + 1)·amax, compared as integers.
fn quant_i8(v: f32, amax: f32) -> i32 {
  let c = u32(min(floor(abs(v) * 127.0 / amax), 127.0));
  let a = mant_exp(abs(v));
  let b = mant_exp(amax);
  let X = 254u * a.x; // < 2^32
  let Y = (2u * c + 1u) * b.x; // < 2^32
  let d = b.y - a.y; // >= 0 since |v| <= amax
  var cmp = -1; // sign of X · 2^a.y − Y · 2^b.y
  if (d < 32u) {
    let hi = X >> d;
    if (hi != Y) {
      cmp = select(-1, 1, hi > Y);
    } else {
      cmp = select(0, 1, (X & ((1u << d) - 1u)) != 0u);
    }
  }
  var t = c;
  if (cmp > 0 || (cmp == 0 && (c & 1u) == 1u)) {
    t = c + 1u;
  }
  return select(-i32(t), i32(t), v >= 0.0);
}
