// embed_rows — the row gather every embed kernel shares: one output value per item, out[m, d] =
// the table's value at (token row, d), decoded by the kernel's hook
//   fn table_value(r: u32, d: u32) -> f32   (r = row within the bound part: token − row0)
// An id ≥ vocab writes 0 (every part alike; the wrappers reject such ids first); a token held by
// another row part is left untouched, so one dispatch per part fills every row.
// Needs: Params {M, dim, vocab, tok_off, row0, rows}, tokens: array<u32>, out: array<f32>, and
// lib/per_item.wgsl (the entry point that calls item_count / item).

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
  out[i] = table_value(tok - p.row0, d);
}
