// matmul_gemv_f32 — one decode token (M = 1): out[n] (+)= Σ_k W[n, k] · x̂[k], W (N, K) f32.
// Reductions go through workgroup memory (no subgroups); matmul_gemv_f32_sg is the same
// kernel with subgroup reductions. src/gpu/device.ts picks one of the two.
//
// Prologue (override PROLOGUE) — what x̂ is; it fuses the op before the matmul:
//   0: x̂ = x[x_off + k]
//   1: x̂ = g[k] * (x[x_off + k] * inv_rms), inv_rms = 1 / sqrt(mean(x²) + eps)  (RMSNorm)
//   2: x̂ = silu(x[x_off + k]) * x[x_off + K + k]                      (SwiGLU: x is [gate|up])
// Epilogue (override ACCUMULATE): out[n] += result (residual add) instead of out[n] = result.
//
// Bindings (group 0):
//   0 uniform  Params {K, N, x_off, eps, n_off}
//   1 read     w:   array<f32>   (N, K) row-major, [out, in]
//   2 read     x:   array<f32>   x_off + K values (x_off + 2K for PROLOGUE 2)
//   3 read     g:   array<f32>   (K) RMSNorm weight for PROLOGUE 1; any small buffer otherwise
//   4 rw       out: array<f32>   n_off + N values, [n_off, n_off + N) written (a row part of a
//                                split weight writes its slice); must not alias x
// Dispatch: ceil(N / ROWS) workgroups of WG threads on an (x, y) grid; WG a power of two
// >= 32 (src/gpu/kernels.ts picks about K/4, between 32 and 128).
// Workgroup j owns rows j*ROWS .. j*ROWS + ROWS - 1. Thread t walks k = t, t + WG, ...: each
// x̂[k] it computes is used for all ROWS rows (x is read once per workgroup, not per row),
// and the WG threads of one row read W coalesced. A tree reduction sums the ROWS partials.
// workgroup_sum (lib/workgroup_reduce.wgsl) and x_hat, the fused prologue
// (lib/matmul_prologue.wgsl), are prepended by the kernel table (src/gpu/kernel-table.ts).

const ROWS = 8u;
override WG: u32 = 128u;
override PROLOGUE: u32 = 0u;
override ACCUMULATE: bool = false;

var<workgroup> red: array<f32, ROWS * WG>; // (ROWS, WG) partial sums

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.y * nwg.x + wid.x) * ROWS;
  if (n0 >= p.N) {
    return; // whole workgroup leaves together: n0 is uniform
  }

  var inv_rms = 1.0;
  if (PROLOGUE == 1u) {
    inv_rms = rms_scale(workgroup_sum(lid, x_sum_sq(lid)));
  }

  // Rows past N (last workgroup) read row N - 1 and are never stored.
  var row: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    row[r] = min(n0 + r, p.N - 1u) * p.K;
  }
  var acc: array<f32, ROWS>;
  for (var k = lid; k < p.K; k += WG) {
    let xv = x_hat(k, inv_rms);
    for (var r = 0u; r < ROWS; r++) {
      acc[r] += w[row[r] + k] * xv;
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    red[r * WG + lid] = acc[r];
  }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var r = 0u; r < ROWS; r++) {
        red[r * WG + lid] += red[r * WG + lid + s];
      }
    }
    workgroupBarrier();
  }

  if (lid < ROWS && n0 + lid < p.N) {
    var v = red[lid * WG];
    let o = p.n_off + n0 + lid;
    if (ACCUMULATE) {
      v += out[o];
    }
    out[o] = v;
  }
}
