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

fn item_count() -> u32 {
  return p.M * p.dim;
}

fn item(i: u32) {
  let m = i / p.dim;
  let d = i % p.dim;
  let tok = tokens[p.tok_off + m];
  if (tok >= p.vocab) {
    out[i] = 0.0;
    return;
  }
  if (tok < p.row0 || tok - p.row0 >= p.rows) {
    return; // another part holds this row
  }
  let e = (tok - p.row0) * p.dim + d;
  out[i] = unpack2x16float(table[e >> 1u])[e & 1u];
}
