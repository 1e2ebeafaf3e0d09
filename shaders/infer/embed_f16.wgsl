// embed_f16 — token embedding lookup from a 16-bit table: out[m, :] = table[tokens[tok_off + m], :]
// widened to f32 (exact). The table is fp16 pairs (src/core/tensor.ts F16Tensor): element
// e = r·dim + d of the part is half e & 1 of word e >> 1. Row parts (a table split across
// bindings) and ids ≥ vocab behave as in embed_f32.wgsl.
//
// Bindings (group 0):
//   0 uniform  Params {M, dim, vocab, tok_off, row0, rows}
//   1 read     tokens: array<u32>   token ids; row m reads tokens[tok_off + m]
//   2 read     table:  array<u32>   ⌈rows·dim / 2⌉ words: rows row0 .. row0 + rows − 1
//   3 rw       out:    array<f32>   (M, dim)
// Dispatch: ceil(M·dim / 64) workgroups of 64 threads on an (x, y) grid (lib/per_item.wgsl).

// The gather (item_count / item) is lib/embed_rows.wgsl; this kernel decodes one value.
fn table_value(r: u32, d: u32) -> f32 {
  let e = r * p.dim + d;
  return unpack2x16float(table[e >> 1u])[e & 1u];
}
