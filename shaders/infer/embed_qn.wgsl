// embed_qn — token embedding lookup from a uniform-quantized table (q8 / q4 / q2: override BITS,
// 32 / BITS codes per word, low bits first; src/core/quant/packing.ts), each row decoded as
// core's dequantizeTensor does: out[m, d] = scale[t, g] · (code[t, d] − zero[t, g]), g = ⌊d / group⌋,
// t = tokens[tok_off + m] − row0. No gIdx (embeddings are never act-ordered). Row parts and
// ids ≥ vocab behave as in embed_f32.wgsl.
//
// Bindings (group 0):
//   0 uniform  Params {M, dim, vocab, tok_off, row0, rows, group, n_groups, wpr}
//   1 read     tokens: array<u32>   token ids
//   2 read     q:      array<u32>   (rows, wpr) packed codes
//   3 read     s:      array<u32>   (rows, n_groups) scales: f32 bits, or fp16 pairs (SCALE_F16)
//   4 read     z:      array<u32>   (rows, n_groups) zero bytes (ASYM; any buffer otherwise)
//   5 rw       out:    array<f32>   (M, dim)
// Dispatch: ceil(M·dim / 64) workgroups of 64 threads on an (x, y) grid (lib/per_item.wgsl);
// scale_at / zero_at: lib/qn_scales.wgsl.

override BITS: u32 = 8u;
override SCALE_F16: bool = false;
override ASYM: bool = false;

// The gather (item_count / item) is lib/embed_rows.wgsl; this kernel decodes one value.
fn table_value(r: u32, d: u32) -> f32 {
  let per = 32u / BITS;
  let code = (q[r * p.wpr + d / per] >> (BITS * (d % per))) & ((1u << BITS) - 1u);
  let gi = r * p.n_groups + d / p.group;
  return scale_at(gi) * (f32(code) - zero_at(gi));
}
