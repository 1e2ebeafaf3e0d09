// matmul_gemm_f16 — prefill (M > 1) with 16-bit weights: out[m·ldo + n_off + n] (+)= Σ_k x[m, k] ·
// W[n, k], W (N, K) stored as fp16 pairs (src/core/tensor.ts F16Tensor: element e = n·K + k is
// half e & 1 of word e >> 1), widened with unpack2x16float while staging tiles (no shader-f16).
// Epilogue (override ACCUMULATE): out += result (residual add) instead of out = result.
//
// Bindings (group 0):
//   0 uniform  Params {M, N, K, n_off, ldo}
//   1 read     x:   array<f32>   (M, K) row-major
//   2 read     w:   array<u32>   ⌈N·K / 2⌉ words of fp16 pairs
//   3 rw       out: array<f32>   (M, ldo); must not alias x
// Dispatch: (ceil(N / 32), ceil(M / 32)) workgroups of 16×16 threads; tiles and staging:
// lib/gemm_tile.wgsl (prepended by src/gpu/kernel-table.ts), which calls w_hat below.

override ACCUMULATE: bool = false;

fn w_hat(n: u32, k: u32) -> f32 {
  let e = n * p.K + k;
  return unpack2x16float(w[e >> 1u])[e & 1u];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  gemm_tile(wid, l);
}
