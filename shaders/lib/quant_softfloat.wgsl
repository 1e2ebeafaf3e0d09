// quant_softfloat — LIBRARY, not a kernel: functions prepended to the quant_* / float_* /
// histogram_* kernels whose table entry in src/gpu/quant-pipelines.ts says `lib: true`.
//
// Why integer arithmetic: the CPU twins (src/core/quant/**) are bit-exact f32 (or f64) IEEE
// arithmetic, and a GPU gives no such guarantee: WGSL's f32 division is only 2.5 ulp accurate,
// `fma`/contraction may or may not fuse, and devices may flush subnormals (SwiftShader does:
// −2^-147 · 0.5 → −0, and −2^-147 < 0.0 is false). So the few operations the quantizers need
// are done here on the u32 bit patterns, correctly rounded (nearest, ties to even), with
// subnormals, and are then identical on every device.
//
// Conventions: a "magnitude" is the bit pattern of a non-negative finite f32 (sign bit clear).
// Every function takes and returns u32 bit patterns unless it says otherwise.

// |x| = m · 2^e with m an integer < 2^24 (normal: implicit bit set, e = E − 150;
// subnormal: e = −149). Finite inputs only.
struct Sf {
  m: u32,
  e: i32,
}

fn sf_split(mag: u32) -> Sf {
  let E = (mag >> 23u) & 0xffu;
  let f = mag & 0x7fffffu;
  if (E == 0u) {
    return Sf(f, -149);
  }
  return Sf(f | 0x800000u, i32(E) - 150);
}

// Shifts m (≠ 0, < 2^24) left so that bit 23 is its top bit, keeping m · 2^e.
fn sf_norm(x: Sf) -> Sf {
  let sh = firstLeadingBit(x.m);
  let k = 23u - sh;
  return Sf(x.m << k, x.e - i32(k));
}

// m >> s rounded to nearest, ties to even (1 ≤ s; s ≥ 32 gives 0 for m < 2^31).
fn sf_rne_shift(m: u32, s: u32) -> u32 {
  if (s >= 32u) {
    return 0u;
  }
  let kept = m >> s;
  let rem = m & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  if (rem > half || (rem == half && (kept & 1u) == 1u)) {
    return kept + 1u;
  }
  return kept;
}

// Magnitude bits of the f32 nearest to (sig + ε) · 2^e, ties to even, where ε ∈ (0, 1) when
// `sticky` (nonzero bits below sig's last one), else ε = 0. Subnormal results and overflow
// (→ +∞) included. When `sticky`, sig must have at least 25 bits (top bit ≥ 24).
fn sf_pack(sig: u32, e: i32, sticky: bool) -> u32 {
  if (sig == 0u) {
    return 0u;
  }
  let msb = i32(firstLeadingBit(sig));
  let top = e + msb; // value in [2^top, 2^(top+1))
  if (top > 127) {
    return 0x7f800000u;
  }
  let sub = top < -126;
  let s = select(msb - 23, -149 - e, sub); // bits to drop
  var kept: u32;
  if (s <= 0) {
    kept = sig << u32(-s); // exact
  } else if (s >= 32) {
    let half = s == 32 && (sig > 0x80000000u || (sig == 0x80000000u && sticky));
    kept = select(0u, 1u, half);
  } else {
    kept = sig >> u32(s);
    let rem = sig & ((1u << u32(s)) - 1u);
    let half = 1u << u32(s - 1);
    if (rem > half || (rem == half && (sticky || (kept & 1u) == 1u))) {
      kept += 1u;
    }
  }
  if (sub) {
    return kept; // ≤ 2^23; 2^23 is the smallest normal's bit pattern
  }
  // kept ∈ [2^23, 2^24]: the implicit bit lands in the exponent field (a carry adds one).
  return min(u32(top + 126) * 0x800000u + kept, 0x7f800000u);
}

// |a| / |b| correctly rounded. a, b finite; b = 0 gives +∞ (0 / 0 gives 0).
fn sf_div(a: u32, b: u32) -> u32 {
  let am = a & 0x7fffffffu;
  let bm = b & 0x7fffffffu;
  if (am == 0u) {
    return 0u;
  }
  if (bm == 0u) {
    return 0x7f800000u;
  }
  let x = sf_norm(sf_split(am));
  let y = sf_norm(sf_split(bm));
  // 27 quotient bits of x.m / y.m ∈ (1/2, 2) by restoring division; the remainder is sticky.
  var r = x.m;
  var q = 0u;
  for (var i = 0u; i < 27u; i++) {
    q <<= 1u;
    if (r >= y.m) {
      r -= y.m;
      q |= 1u;
    }
    r <<= 1u;
  }
  return sf_pack(q, x.e - y.e - 26, r != 0u);
}

// |a| + |b| correctly rounded (finite).
fn sf_add(a: u32, b: u32) -> u32 {
  var x = sf_split(a & 0x7fffffffu);
  var y = sf_split(b & 0x7fffffffu);
  if (x.m == 0u) {
    return b & 0x7fffffffu;
  }
  if (y.m == 0u) {
    return a & 0x7fffffffu;
  }
  if (x.e < y.e) {
    let t = x;
    x = y;
    y = t;
  }
  let d = u32(x.e - y.e);
  let ym = y.m << 3u;
  var lo = 0u;
  var sticky = ym != 0u;
  if (d == 0u) {
    lo = ym;
    sticky = false;
  } else if (d < 32u) {
    lo = ym >> d;
    sticky = (ym & ((1u << d) - 1u)) != 0u;
  }
  // x normal ⇒ x.m << 3 ≥ 2^26; x subnormal ⇒ d = 0 and the sum is exact.
  return sf_pack((x.m << 3u) + lo, x.e - 3, sticky);
}

// |a| · |b| correctly rounded; a or b may be +∞ (∞ · 0 = NaN 0x7fc00000, as IEEE), not NaN.
fn sf_mul(a: u32, b: u32) -> u32 {
  let am = a & 0x7fffffffu;
  let bm = b & 0x7fffffffu;
  if (am >= 0x7f800000u || bm >= 0x7f800000u) {
    return select(0x7f800000u, 0x7fc00000u, am == 0u || bm == 0u);
  }
  if (am == 0u || bm == 0u) {
    return 0u;
  }
  let x = sf_norm(sf_split(am));
  let y = sf_norm(sf_split(bm));
  // 48-bit product of two 24-bit mantissas from 16-bit halves.
  let a0 = x.m & 0xffffu;
  let a1 = x.m >> 16u;
  let b0 = y.m & 0xffffu;
  let b1 = y.m >> 16u;
  let ll = a0 * b0;
  let mid = a0 * b1 + a1 * b0; // < 2^25
  let lo = ll + (mid << 16u);
  let hi = a1 * b1 + (mid >> 16u) + select(0u, 1u, lo < ll);
  // product ∈ [2^46, 2^48): keep bits 47..21 (sig ∈ [2^25, 2^27)), the rest is sticky.
  let sig = (hi << 11u) | (lo >> 21u);
  return sf_pack(sig, x.e + y.e + 21, (lo & 0x1fffffu) != 0u);
}

// The value of f32 bits `b` rounded to the nearest integer, ties to even, clamped to ±2^20.
fn sf_rint(b: u32) -> i32 {
  let mag = b & 0x7fffffffu;
  var n = 1u << 20u;
  if (mag < 0x49800000u) { // |x| < 2^20, so e ≤ −4 below
    let x = sf_split(mag);
    n = sf_rne_shift(x.m, u32(-x.e));
  }
  return select(i32(n), -i32(n), (b >> 31u) != 0u);
}

// round(f32(x / s)) (ties to even) for f32 bits x and s > 0 — the quantizers' code before the
// zero point and the clamp. Exact when |result| < 4096; otherwise some value of the right sign
// with magnitude ≥ 4096 (every caller clamps to at most 8 bits). Fast path: the hardware quotient
// (≤ 2.5 ulp in WGSL for normal operands) decides whenever it is > 2^-8 away from a tie, which
// 3 ulp < 2^-9 (|x / s| < 4096) cannot cross; subnormal operands and near-ties take sf_div.
fn sf_div_rint(x: u32, s: u32) -> i32 {
  let xe = x & 0x7f800000u;
  let se = s & 0x7f800000u;
  if (xe != 0u && xe != 0x7f800000u && se != 0u && se < 0x7e800000u) {
    let t = bitcast<f32>(x) / bitcast<f32>(s);
    let a = abs(t);
    if (a >= 4096.0) {
      return select(4096, -4096, t < 0.0);
    }
    if (abs(a - floor(a) - 0.5) > 0.00390625) {
      return i32(round(t));
    }
  }
  return sf_rint((x & 0x80000000u) | sf_div(x, s));
}

// Magnitude `mag` rounded (nearest even) to a float format with `mb` fraction bits and
// smallest normal exponent `emin` (= 1 − bias): below 2^emin the quantum stays 2^(emin − mb)
// (the format's subnormals). Overflow is the caller's: the result may exceed the format's max.
fn sf_round_to(mag: u32, mb: u32, emin: i32) -> u32 {
  if (mag == 0u) {
    return 0u;
  }
  let x = sf_split(mag);
  let top = x.e + i32(firstLeadingBit(x.m));
  let qe = max(top, emin) - i32(mb); // the format's quantum at this value
  if (qe <= x.e) {
    return mag; // already representable
  }
  return sf_pack(sf_rne_shift(x.m, u32(qe - x.e)), qe, false);
}

// fp16 code (16 bits) → f32 bits, exact (fp16 subnormals included).
fn sf_f16_to_f32(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let E = (h >> 10u) & 0x1fu;
  let f = h & 0x3ffu;
  if (E == 0u) {
    return sign | sf_pack(f, -24, false);
  }
  if (E == 31u) {
    return sign | 0x7f800000u | (f << 13u);
  }
  return sign | ((E + 112u) << 23u) | (f << 13u);
}

// Magnitude bits of a value exactly representable in fp16 → its fp16 code (≤ 65504).
fn sf_f32_to_f16_exact(mag: u32) -> u32 {
  if (mag >= 0x38800000u) { // ≥ 2^-14: normal
    return (((mag >> 23u) - 112u) << 10u) | ((mag >> 13u) & 0x3ffu);
  }
  if (mag == 0u) {
    return 0u;
  }
  let x = sf_split(mag); // value = m · 2^e, a multiple of 2^-24
  return x.m >> u32(-24 - x.e);
}
