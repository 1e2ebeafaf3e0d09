// matmul_gemm_f32 — prefill (M > 1): out[m·ldo + n_off + n] (+)= Σ_k x[m, k] · W[n, k],
// W (N, K) f32 [out, in]: columns n_off .. n_off + N of an output with rows of ldo values (a row
// part of a split weight writes its slice; n_off = 0, ldo = N for a whole weight).
// Epilogue (override ACCUMULATE): out += result (residual add) instead of out = result.
//
// Bindings (group 0):
//   0 uniform  Params {M, N, K, n_off, ldo}
//   1 read     x:   array<f32>   (M, K) row-major
//   2 read     w:   array<f32>   (N, K) row-major
//   3 rw       out: array<f32>   (M, ldo); must not alias x
// Dispatch: (ceil(N / 32), ceil(M / 32)) workgroups of 16×16 threads. Tiles (32×32 outputs per
// workgroup, K in steps of 32), staging and thread ownership: lib/gemm_tile.wgsl (prepended by
// src/gpu/kernel-table.ts), which calls w_hat below.

override ACCUMULATE: bool = false;

fn w_hat(n: u32, k: u32) -> f32 {
  return w[n * p.K + k];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  gemm_tile(wid, l);
}
