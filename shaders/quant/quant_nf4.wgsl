// quant_nf4 — NF4/FP4 step 2 of 2: 4-bit codebook codes of the flattened tensor x (n), packed
// bitsandbytes-style, bit-identical to src/core/quant/quantize-tensor.ts (format nf4 / fp4,
// without double quantization):
//   x̂ = f32(x · f32(1 / absmax[⌊e / B⌋]))  (0 when absmax = 0), both correctly rounded, IEEE
//        specials included (absmax < 2^-128 gives 1 / absmax = ∞, x̂ = ±∞, or NaN for x = 0)
//   NF4: code = number of NF4_THRESHOLDS below x̂ (strict >, as bnb dQuantizeNF4)
//   FP4: sign 8 when x̂ < 0, magnitude code from FP4 thresholds on |x̂| (bnb dQuantizeFP4)
// Packing: two codes per byte, element 2i in the HIGH nibble; element e in word e >> 3 at bit
// 8·((e >> 1) & 3) + (e & 1 ? 0 : 4); an odd n pads one low nibble with PAD (NF4 7, FP4 0).
// Comparisons are on order-preserving u32 keys of the bit patterns, so subnormal x̂ keep their
// sign even on devices that flush subnormals.
// Prepended library: quant_softfloat.wgsl (sf_div, sf_mul).
//
// Bindings (group 0):
//   0 uniform  Params {n, B, n_words}
//   1 read     x:      array<u32>   (n) f32 bit patterns
//   2 read     absmax: array<u32>   (⌈n / B⌉) f32 bits, from quant_absmax
//   3 rw       out:    array<u32>   (n_words = ⌈n / 8⌉)
// Dispatch: ceil(n_words / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per word.

override FP4: bool = false;

// f32 bit patterns of nf4.ts NF4_THRESHOLDS and the FP4 thresholds (Float32Array values).
const NF4_T = array<u32, 15>(
  0xbf591cd8u, 0xbf1c5270u, 0xbeeb8480u, 0xbeadea76u, 0xbe703cecu, 0xbe0d38bcu, 0xbd3a7871u,
  0x3d22faffu, 0x3df64862u, 0x3e5067e0u, 0x3e9582d4u, 0x3ec753f9u, 0x3f006d04u, 0x3f248dafu,
  0x3f5c89dau,
);
const FP4_T = array<u32, 7>(0x3b2aaab9u, 0x3db00000u, 0x3e555555u, 0x3e955555u, 0x3ed55556u, 0x3f155550u, 0x3f555555u);
const FP4_MAG = array<u32, 8>(0u, 1u, 6u, 7u, 4u, 5u, 2u, 3u);
const ONE = 0x3f800000u;

// Order-preserving key of f32 bits: a < b as floats ⇔ key(a) < key(b) (−0 just below +0).
fn key(b: u32) -> u32 {
  return select(b | 0x80000000u, ~b, (b >> 31u) != 0u);
}

fn code_of(xn: u32) -> u32 {
  if ((xn & 0x7fffffffu) > 0x7f800000u) {
    return 0u; // NaN (0 · ∞ in a block whose absmax is so small that 1 / absmax = ∞): no compare holds
  }
  if (FP4) {
    let mag = xn & 0x7fffffffu;
    var i = 0u;
    while (i < 7u && mag > FP4_T[i]) {
      i++;
    }
    let neg = (xn >> 31u) != 0u && mag != 0u; // x̂ < 0 (−0 is not)
    return select(0u, 8u, neg) + FP4_MAG[i];
  }
  let kx = key(xn);
  var c = 0u;
  while (c < 15u && kx > key(NF4_T[c])) {
    c++;
  }
  return c;
}

fn item_count() -> u32 {
  return p.n_words;
}

fn item(wd: u32) {
  let pad = select(7u, 0u, FP4);
  var word = 0u;
  var b_cur = 0xffffffffu;
  var inv = 0u;
  for (var k = 0u; k < 8u; k++) {
    let e = 8u * wd + k;
    var q = 0u;
    if (e < p.n) {
      let b = e / p.B;
      if (b != b_cur) {
        b_cur = b;
        let m = absmax[b];
        inv = select(sf_div(ONE, m), 0u, m == 0u);
      }
      let v = x[e];
      q = code_of((v & 0x80000000u) | sf_mul(v, inv));
    } else if (e == p.n && (p.n & 1u) == 1u) {
      q = pad;
    } else {
      break;
    }
    word |= q << (8u * ((e >> 1u) & 3u) + select(4u, 0u, (e & 1u) == 1u));
  }
  out[wd] = word;
}
