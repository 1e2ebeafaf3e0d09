// quant_pack — RTN step 3 of 3: codes q = clamp(round(w / scale) + zero, 0, maxq) of W (rows,
// cols), packed per row as src/core/quant/packing.ts packRows lays them out (padding codes 0):
//   BITS 8: 4 per word, value j in word j >> 2, bits 8·(j & 3)
//   BITS 4: 8 per word (low nibble first)      BITS 2: 16 per word
//   BITS 3: bit planes, 32 values per 3 words: low 2 bits of value k of block b in word
//           3b + (k >> 4) at bits 2·(k & 15); bit 2 in word 3b + 2 at bit k
// round(w / scale) is sf_div_rint (quant_softfloat.wgsl): the correctly rounded quotient rounded
// half to even, so codes equal quantizeValue's for every input, subnormals included (the
// hardware quotient is used only where it provably gives the same integer).
// scale / zero of (row r, column j) are entry f = r·n_groups + ⌊j / G⌋ of quant_params' output
// (f32 bits, or fp16 pairs when f16); zero = 2^(BITS − 1) when has_zeros = 0 (symmetric).
// maxq = 2^bits − 1 for the fitted bits (≤ BITS: 5–7-bit codes live in 8-bit containers).
//
// Bindings (group 0):
//   0 uniform  Params {rows, cols, G, n_groups, wpr, units, bits, f16, has_zeros}
//   1 read     w:      array<u32>   (rows, cols) f32 bit patterns
//   2 read     scales: array<u32>   (rows · n_groups) f32 bits, or fp16 pairs
//   3 read     zeros:  array<u32>   (⌈rows · n_groups / 4⌉) bytes; any buffer when has_zeros = 0
//   4 rw       out:    array<u32>   (rows, wpr) packed words
// Dispatch: ceil(rows · units / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl), units = words per row
// (⌈cols / 32⌉ blocks of 3 words for BITS 3); one thread per (row, unit) writes whole words.

override BITS: u32 = 4u;

fn scale_of(f: u32) -> u32 {
  if (p.f16 != 0u) {
    return sf_f16_to_f32((scales[f >> 1u] >> (16u * (f & 1u))) & 0xffffu);
  }
  return scales[f];
}

fn zero_of(f: u32) -> i32 {
  if (p.has_zeros != 0u) {
    return i32((zeros[f >> 2u] >> (8u * (f & 3u))) & 0xffu);
  }
  return i32(1u << (BITS - 1u));
}

fn item_count() -> u32 {
  return p.rows * p.units;
}

fn item(t: u32) {
  let r = t / p.units;
  let u = t % p.units;
  let per = select(32u / BITS, 32u, BITS == 3u); // values per unit
  let mq = i32((1u << p.bits) - 1u);
  var words = vec3u(0u, 0u, 0u);
  var g_cur = 0xffffffffu;
  var scale = 0u;
  var zero = 0;
  for (var k = 0u; k < per; k++) {
    let j = u * per + k;
    if (j >= p.cols) {
      break;
    }
    let g = j / p.G;
    if (g != g_cur) {
      g_cur = g;
      scale = scale_of(r * p.n_groups + g);
      zero = zero_of(r * p.n_groups + g);
    }
    let x = w[r * p.cols + j];
    let q = u32(clamp(sf_div_rint(x, scale) + zero, 0, mq));
    if (BITS == 3u) {
      words[k >> 4u] |= (q & 3u) << (2u * (k & 15u));
      words.z |= ((q >> 2u) & 1u) << k;
    } else {
      words.x |= q << (BITS * k);
    }
  }
  if (BITS == 3u) {
    let o = r * p.wpr + 3u * u;
    out[o] = words.x;
    out[o + 1u] = words.y;
    out[o + 2u] = words.z;
  } else {
    out[r * p.wpr + u] = words.x;
  }
}
