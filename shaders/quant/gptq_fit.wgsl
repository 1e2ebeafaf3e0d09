// gptq_fit — GPTQ's uniform grid for groups g0 .. g0 + ng − 1 of every row, fitted on W as it
// stands (src/core/gptq.ts fitUniformRows, f32 here): over columns [g·G, min((g + 1)·G, cols)),
//   xmin = min(min w, 0), xmax = max(max w, 0); sym: xmax = max(−xmin, xmax), xmin = −xmax;
//   [0, 0] → [−1, 1]; scale = (xmax − xmin) / maxq; zero = sym ? (maxq + 1) / 2 : round(−xmin / scale)
// Called once on the original W (per-row grid: G = cols; static groups: every group), or at
// the start of every GPTQ block for the groups that start inside it (W at the block start).
//
// Bindings (group 0):
//   0 uniform  Params {rows, cols, G, n_groups, g0, ng, maxq, sym}
//   1 read     W:    array<f32>   (rows, cols)
//   2 rw       grid: array<f32>   (rows, n_groups, 2): (scale, zero)
// Dispatch: ceil(rows · ng / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per
// (row, group), consecutive threads on consecutive groups of a row.

fn item_count() -> u32 {
  return p.rows * p.ng;
}

fn item(t: u32) {
  let r = t / p.ng;
  let g = p.g0 + t % p.ng;
  let c0 = g * p.G;
  let c1 = min(c0 + p.G, p.cols);
  var xmin = 0.0;
  var xmax = 0.0;
  for (var c = c0; c < c1; c++) {
    let v = W[r * p.cols + c];
    xmin = min(xmin, v);
    xmax = max(xmax, v);
  }
  if (p.sym != 0u) {
    xmax = max(-xmin, xmax);
    xmin = -xmax;
  }
  if (xmin == 0.0 && xmax == 0.0) {
    xmin = -1.0;
    xmax = 1.0;
  }
  let scale = (xmax - xmin) / f32(p.maxq);
  var zero = f32((p.maxq + 1u) / 2u);
  if (p.sym == 0u) {
    zero = round(-xmin / scale);
  }
  let o = 2u * (r * p.n_groups + g);
  grid[o] = scale;
  grid[o + 1u] = zero;
}
