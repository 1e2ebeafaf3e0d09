// matmul_gemm_nf4 — prefill (M > 1) with bitsandbytes 4-bit codebook weights W (N, K)
// (override CODEBOOK: 0 NF4, 1 FP4), decoded while staging tiles (no f32 copy of W):
//   out[m·ldo + n_off + n] (+)= Σ_k x[m, k] · ŵ[n, k],
//   ŵ[n, k] = CODE[q[e]] · absmax[⌊e / block⌋],  e = n·K + k (flattened; blocks cross rows),
// the same f32 value core's dequantizeTensor gives. Layout as in matmul_gemv_nf4.wgsl.
// ACCUMULATE: out += result.
//
// Bindings (group 0):
//   0 uniform  Params {M, N, K, block, n_off, ldo}
//   1 read     x:      array<f32>  (M, K) row-major
//   2 read     q:      array<u32>  ⌈N·K / 8⌉ words, element e at bit 8·((e >> 1) & 3) + (e & 1 ? 0 : 4)
//   3 read     absmax: array<f32>  ⌈N·K / block⌉
//   4 rw       out:    array<f32>  (M, ldo), columns n_off .. n_off + N written; must not alias x
// Dispatch: (ceil(N / 32), ceil(M / 32)) workgroups of 16×16 threads. Tiles, staging and thread
// ownership: lib/gemm_tile.wgsl (prepended by src/gpu/kernel-table.ts), which calls w_hat below;
// code_value: lib/nf4_codebook.wgsl.

override ACCUMULATE: bool = false;
override CODEBOOK: u32 = 0u;

fn w_hat(n: u32, k: u32) -> f32 {
  let e = n * p.K + k;
  let c = (q[e >> 3u] >> (8u * ((e >> 1u) & 3u) + select(4u, 0u, (e & 1u) == 1u))) & 15u;
  return code_value(c) * absmax[e / p.block];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  gemm_tile(wid, l);
}
