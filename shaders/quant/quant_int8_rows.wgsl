// quant_int8_rows — LLM.int8 / W8A8 weight: per-row absmax int8 of W (rows, cols), bit-identical
// to src/core/llmint8.ts quantizeRowsInt8 + packInt8Rows:
//   a = max |w| over the row; scale = f32(a / 127) (0 for a zero row)
//   q = roundHalfEven(w · (127 / a)) with the twin's float64 arithmetic: fl64(w · fl64(127/a)).
// q is decided exactly in integers: 2t = 254|w| / a is split into quotient and remainder; only
// an exact tie t = k + ½ depends on the two f64 roundings, and for it the sign and size of
// fl64(127/a)'s rounding error (a 70-step long division) tell whether fl64(w · c) stays on
// k + ½ (then ties to even) or moves off it (see int8_code). Codes are two's-complement bytes,
// 4 per word: byte j of a row in word j >> 2 at bits 8·(j & 3); rows padded to whole words.
// A non-finite weight sets status[0] bit 0.
// Prepended library: quant_softfloat.wgsl.
//
// Bindings (group 0):
//   0 uniform  Params {rows, cols, wpr}
//   1 read     w:      array<u32>          (rows, cols) f32 bit patterns
//   2 rw       data:   array<u32>          (rows, wpr), wpr = ⌈cols / 4⌉
//   3 rw       scales: array<u32>          (rows) f32 bits
//   4 rw       status: array<atomic<u32>>  (≥ 1)
// Dispatch: rows workgroups of 64 threads on an (x, y) grid. Row max by a tree reduction in
// workgroup memory, then thread t packs words t, t + 64, ...

const WG = 64u;
const F32_127 = 0x42fe0000u;

var<workgroup> red: array<u32, WG>;

// |q| for |w| = mag_w ≤ a = mag_a (magnitudes, a > 0).
fn int8_code(mag_w: u32, mag_a: u32) -> u32 {
  if (mag_w == 0u) {
    return 0u;
  }
  let x = sf_norm(sf_split(mag_w));
  let y = sf_norm(sf_split(mag_a));
  let d = u32(y.e - x.e); // ≥ 0 since |w| ≤ a
  if (d >= 9u) {
    return 0u; // t = 127|w|/a < 254/512 < ½
  }
  let num = 254u * x.m; // < 2^32
  let den = y.m << d; // < 2^32
  let m2 = num / den; // ⌊2t⌋
  let rem = num % den;
  if ((m2 & 1u) == 0u) {
    return m2 / 2u; // t ∈ [m2/2, m2/2 + ½)
  }
  if (rem != 0u) {
    return (m2 + 1u) / 2u; // t ∈ (k + ½, k + 1)
  }
  // Exact tie t = k + ½. c = fl64(127 / a) = Qr · 2^-(s + ea), Q = ⌊127 · 2^s / ma⌋ ∈ [2^52, 2^53).
  let k = (m2 - 1u) / 2u;
  let s = select(70u, 69u, y.m <= 16646144u); // 127 · 2^17
  var r1 = 127u;
  var lsb = 0u;
  for (var i = 0u; i < s; i++) {
    r1 <<= 1u;
    lsb = select(0u, 1u, r1 >= y.m);
    if (lsb == 1u) {
      r1 -= y.m;
    }
  }
  let up = 2u * r1 > y.m || (2u * r1 == y.m && lsb == 1u);
  let e1 = select(r1, y.m - r1, up); // |Qr · ma − 127 · 2^s|
  // w · c = T (1 + δ), T = k + ½, |T δ| = (2k + 1) e1 / (127 · 2^(s+1)). fl64 leaves T (which is
  // "even") unless |T δ| exceeds half the gap to T's neighbour on that side: 2^(E − 53), or
  // 2^(E − 54) below T = ½ (a power of two), E = ⌊log2 T⌋.
  let E = i32(firstLeadingBit(2u * k + 1u)) - 1;
  let below_pow2 = k == 0u && !up;
  let sh = u32(i32(s) + E - 52 - select(0, 1, below_pow2));
  if (e1 != 0u && (2u * k + 1u) * e1 > (127u << sh)) {
    return select(k, k + 1u, up);
  }
  return select(k + 1u, k, (k & 1u) == 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = wid.y * nwg.x + wid.x;
  if (r >= p.rows) {
    return; // uniform per workgroup
  }
  let base = r * p.cols;
  var m = 0u;
  for (var c = lid; c < p.cols; c += WG) {
    m = max(m, w[base + c] & 0x7fffffffu);
  }
  red[lid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = max(red[lid], red[lid + s]);
    }
    workgroupBarrier();
  }
  let a = red[0];
  if (lid == 0u) {
    scales[r] = sf_div(a, F32_127);
    if (a >= 0x7f800000u) {
      atomicOr(&status[0], 1u);
    }
  }
  for (var wd = lid; wd < p.wpr; wd += WG) {
    var word = 0u;
    for (var k = 0u; k < 4u; k++) {
      let c = 4u * wd + k;
      if (c < p.cols && a != 0u && a < 0x7f800000u) {
        let b = w[base + c];
        let q = int8_code(b & 0x7fffffffu, a);
        let byte = select(q, (256u - q) & 0xffu, (b >> 31u) != 0u);
        word |= byte << (8u * k);
      }
    }
    data[r * p.wpr + wd] = word;
  }
}
