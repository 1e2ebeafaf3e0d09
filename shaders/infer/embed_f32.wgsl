// embed_f32 — token embedding lookup: out[m, :] = table[tokens[tok_off + m], :].
// The table may be split by rows across buffers (a table larger than one storage binding):
// this dispatch binds the part holding rows row0 .. row0 + rows - 1 and writes only the output
// rows whose token falls in it; output rows of other tokens are left untouched, so one
// dispatch per part (or per part that holds a token of the step) fills every row.
//
// Bindings (group 0):
//   0 uniform  Params {M, dim, vocab, tok_off, row0, rows}
//   1 read     tokens: array<u32>   token ids; row m reads tokens[tok_off + m]
//   2 read     table:  array<f32>   (rows, dim) row-major: rows row0 .. row0 + rows - 1 of the
//                                   (vocab, dim) table
//   3 rw       out:    array<f32>   (M, dim)
// Dispatch: ceil(M * dim / 64) workgroups of 64 threads, one output value per thread, laid
// out on an (x, y) grid (lib/per_item.wgsl) (linear id = y * num_workgroups.x + x) so any count fits the
// per-dimension limit. An id >= vocab writes zeros (every part alike); the wrapper rejects
// such ids first.

// The gather (item_count / item) is lib/embed_rows.wgsl; this kernel decodes one value.
fn table_value(r: u32, d: u32) -> f32 {
  return table[r * p.dim + d];
}
