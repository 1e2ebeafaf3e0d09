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
// ownership: lib/gemm_tile.wgsl (prepended by src/gpu/kernel-table.ts), which calls w_hat below.

override ACCUMULATE: bool = false;
override CODEBOOK: u32 = 0u;

// src/core/quant/nf4.ts NF4_CODE and FP4_CODE (the same decimals, so the same f32 values).
const NF4 = array<f32, 16>(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
);
const FP4 = array<f32, 16>(
  0.0, 5.208333333e-3, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25,
  -0.0, -5.208333333e-3, -0.66666667, -1.0, -0.33333333, -0.5, -0.16666667, -0.25,
);

fn w_hat(n: u32, k: u32) -> f32 {
  let e = n * p.K + k;
  let c = (q[e >> 3u] >> (8u * ((e >> 1u) & 3u) + select(4u, 0u, (e & 1u) == 1u))) & 15u;
  var v = NF4[c];
  if (CODEBOOK == 1u) {
    v = FP4[c];
  }
  return v * absmax[e / p.block];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  gemm_tile(wid, l);
}
