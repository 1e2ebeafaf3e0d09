// quant_params — RTN step 2 of 3: (scale, zero) per (row, group) from quant_range's ranges,
// bit-identical to src/core/quant/uniform.ts paramsFromRange (f32, round half to even):
//   maxq = 2^bits − 1; sym: xmax = max(|xmin|, xmax), xmin = −xmax; [0, 0] → [−1, 1]
//   scale = f32(f32(xmax − xmin) / maxq)          (then fp16-rounded when F16, as f16Scale:
//                                                   0 → 2^-24, > 65504 → status bit 1)
//   zero  = sym ? (maxq + 1) / 2 : clamp(round(−xmin / scale), 0, maxq)
// and writes them in the packed layouts of src/core/quant/format.ts:
//   f32 scales: scales[f] = f32 bits;  f16 scales: fp16 pairs, value f in word f >> 1, half f & 1
//   zeros (when write_zeros): bytes, value f in word f >> 2 at bits 8·(f & 3)
// TENSOR = 1: 'tensor' granularity; ranges hold one (|xmin|, xmax) per row and every output
// entry gets the parameters of their union (replicated per row, as quantizeMatrix stores them).
// Prepended library: quant_softfloat.wgsl (sf_add, sf_div, sf_rint, sf_round_to, ...).
//
// Bindings (group 0):
//   0 uniform  Params {n, bits, sym, f16, write_zeros, tensor}
//   1 read     ranges: array<u32>          (n, 2) magnitudes (|xmin|, xmax)
//   2 rw       scales: array<u32>          (n) f32 bits, or (⌈n / 2⌉) fp16 pairs when f16
//   3 rw       zeros:  array<u32>          (⌈n / 4⌉) bytes; untouched unless write_zeros
//   4 rw       status: array<atomic<u32>>  (≥ 1)
// Dispatch: ceil(⌈n / 4⌉ / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); thread t owns entries
// 4t .. 4t + 3, i.e. exactly one zeros word, two fp16 words or four f32 scales.

const ONE = 0x3f800000u;
const F16_MAX = 0x477fe000u; // 65504
const F16_MIN_SUB = 0x33800000u; // 2^-24

// (scale as f32 bits, zero) of one range; scale already fp16-rounded when p.f16.
fn fit(neg_in: u32, pos_in: u32) -> vec2u {
  let mq = (1u << p.bits) - 1u;
  var neg = neg_in;
  var pos = pos_in;
  if (p.sym != 0u) {
    pos = max(neg, pos);
    neg = pos;
  }
  if (neg == 0u && pos == 0u) {
    neg = ONE;
    pos = ONE;
  }
  var scale = sf_div(sf_add(pos, neg), bitcast<u32>(f32(mq))); // xmax − xmin = xmax + |xmin|
  if (p.f16 != 0u) {
    scale = sf_round_to(scale, 10u, -14);
    if (scale > F16_MAX) {
      atomicOr(&status[0], 2u);
    }
    if (scale == 0u) {
      scale = F16_MIN_SUB;
    }
  }
  var zero = (mq + 1u) / 2u;
  if (p.sym == 0u) {
    zero = u32(clamp(sf_rint(sf_div(neg, scale)), 0, i32(mq)));
  }
  return vec2u(scale, zero);
}

fn item_count() -> u32 {
  return (p.n + 3u) / 4u; // 4t < n
}

fn item(t: u32) {
  let f0 = 4u * t;
  var whole = vec2u(0u, 0u);
  if (p.tensor != 0u) {
    var neg = 0u;
    var pos = 0u;
    for (var i = 0u; i < p.n; i++) {
      neg = max(neg, ranges[2u * i]);
      pos = max(pos, ranges[2u * i + 1u]);
    }
    whole = fit(neg, pos);
  }
  var sc: array<u32, 4>;
  var zw = 0u;
  for (var k = 0u; k < 4u; k++) {
    let f = f0 + k;
    if (f < p.n) {
      var sz = whole;
      if (p.tensor == 0u) {
        sz = fit(ranges[2u * f], ranges[2u * f + 1u]);
      }
      sc[k] = sz.x;
      zw |= sz.y << (8u * k);
      if (p.f16 == 0u) {
        scales[f] = sz.x;
      }
    }
  }
  if (p.f16 != 0u) {
    for (var k = 0u; k < 2u; k++) {
      let f = f0 + 2u * k;
      if (f < p.n) {
        let hi = select(0u, sf_f32_to_f16_exact(sc[2u * k + 1u]) << 16u, f + 1u < p.n);
        scales[(f >> 1u)] = sf_f32_to_f16_exact(sc[2u * k]) | hi;
      }
    }
  }
  if (p.write_zeros != 0u) {
    zeros[t] = zw;
  }
}
