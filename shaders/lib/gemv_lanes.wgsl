// gemv_lanes — LIBRARY, not a kernel: the end of the lane-split GEMVs (matmul_gemv_qn / nf4),
// prepended by the kernel table (src/gpu/kernel-table.ts). In those kernels a workgroup owns ROWS
// output rows from n0; thread lid is lane lid % TC of rows r0 .. r0 + RPT - 1, r0 = (lid / TC) · RPT,
// and holds acc[i], its partial sum of row r0 + i. Uses what the kernel declares: the uniform `p`
// (N, n_off), the binding `out`, `red: array<f32, ≥ ROWS · TC>` in workgroup memory and the
// overrides TC (a power of two), RPT and ACCUMULATE.

// Sums each row's TC lane partials (tree reduction in red, (ROWS, TC)) and stores rows n < N:
// out[n_off + n] = Σ (ACCUMULATE: += Σ). Call from uniform control flow.
fn store_rows(lane: u32, r0: u32, n0: u32, acc: array<f32, ROWS>) {
  for (var i = 0u; i < RPT; i++) {
    red[(r0 + i) * TC + lane] = acc[i];
  }
  workgroupBarrier();
  for (var st = TC / 2u; st > 0u; st >>= 1u) {
    if (lane < st) {
      for (var i = 0u; i < RPT; i++) {
        red[(r0 + i) * TC + lane] += red[(r0 + i) * TC + lane + st];
      }
    }
    workgroupBarrier();
  }

  if (lane == 0u) {
    for (var i = 0u; i < RPT; i++) {
      let n = n0 + r0 + i;
      if (n < p.N) {
        var v = red[(r0 + i) * TC];
        if (ACCUMULATE) {
          v += out[p.n_off + n];
        }
        out[p.n_off + n] = v;
      }
    }
  }
}
