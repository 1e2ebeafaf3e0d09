// absmax_cols — running per-column max |x| over a block of activation rows, the statistic of
// SmoothQuant's per-channel scales and LLM.int8's outlier columns, as src/core/quant/smoothquant.ts
// accumulateAbsMax: acc[c] = max(acc[c], max_r |x[x_off + r·K + c]|). Exact: magnitudes are
// compared as bit patterns (sign cleared), which order finite non-negative f32 as their values.
//
// Bindings (group 0):
//   0 uniform  Params {K, rows, x_off}
//   1 read     x:   array<u32>  (rows, K) f32 bit patterns from element x_off (an activation buffer)
//   2 rw       acc: array<u32>  (K) f32 bits, the running maxima (zeroed before the first block)
// Dispatch: ceil(K / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per
// column, so neighbouring threads read neighbouring words of each row.

fn item_count() -> u32 {
  return p.K;
}

fn item(c: u32) {
  var m = acc[c];
  for (var r = 0u; r < p.rows; r++) {
    m = max(m, x[p.x_off + r * p.K + c] & 0x7fffffffu);
  }
  acc[c] = m;
}
