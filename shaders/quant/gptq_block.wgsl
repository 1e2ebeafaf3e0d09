// gptq_block — GPTQ's column loop over one block of cnt ≤ 128 columns s1 .. s1 + cnt − 1 of the
// (act-order permuted) W, every row independently (src/core/gptq.ts, quantization.md step 6):
//   for j < cnt, col = s1 + j, (scale, zero) = grid[row, gidx[col]]:
//     q = clamp(round(w_j / scale) + zero, 0, maxq);  ŵ = scale · (q − zero);  d = U[col, col]
//     err_j = (w_j − ŵ) / d;  loss += (w_j − ŵ)² / (2 d²);  w_k −= err_j · U[col, s1 + k] (k > j)
// The block's W row lives in registers (the reference's working copy W1); W itself is not
// written: gptq_update applies the block's errors to the columns right of it (lazy batch).
//
// Bindings (group 0):
//   0 uniform  Params {rows, cols, s1, cnt, n_groups, maxq}
//   1 read     W:     array<f32>   (rows, cols)
//   2 read     U:     array<f32>   (cols, cols) upper Cholesky factor of Ĥ⁻¹ (permuted order)
//   3 read     grid:  array<f32>   (rows, n_groups, 2) (scale, zero)
//   4 read     gidx:  array<u32>   (cols) group of each permuted column
//   5 rw       codes: array<u32>   (rows, cols) one code per u32
//   6 rw       err:   array<f32>   (rows, 128) this block's errors, for gptq_update
//   7 rw       loss:  array<f32>   (rows) accumulated over blocks
// Dispatch: ceil(rows / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per row. All
// threads of a workgroup read the same U entries (broadcast).

const BI = 128u;

fn item_count() -> u32 {
  return p.rows;
}

fn item(r: u32) {
  let cnt = min(p.cnt, BI);
  var w1: array<f32, BI>;
  for (var k = 0u; k < cnt; k++) {
    w1[k] = W[r * p.cols + p.s1 + k];
  }
  let mq = f32(p.maxq);
  var l = 0.0;
  for (var j = 0u; j < cnt; j++) {
    let col = p.s1 + j;
    let o = 2u * (r * p.n_groups + gidx[col]);
    let scale = grid[o];
    let zero = grid[o + 1u];
    let w = w1[j];
    let q = clamp(round(w / scale) + zero, 0.0, mq);
    let dq = w - scale * (q - zero);
    let d = U[col * p.cols + col];
    let e = dq / d;
    l += dq * dq / (2.0 * d * d);
    err[r * BI + j] = e;
    codes[r * p.cols + col] = u32(q);
    for (var k = j + 1u; k < cnt; k++) {
      w1[k] -= e * U[col * p.cols + p.s1 + k];
    }
  }
  loss[r] += l;
}
