// matmul_gemm_qn — prefill (M > 1) with uniform-quantized weights W (N, K), 2, 3, 4 or 8 bits
// per code (override BITS: q2 / q3 / q4 / q8), decoded while staging tiles (no f32 copy of W):
//   out[m·ldo + n_off + n] (+)= Σ_k x[m, k] · ŵ[n, k],
//   ŵ[n, k] = scale[n, g] · (q[n, k] − zero[n, g]),  g = gidx[k] (GIDX) or ⌊k / group⌋,
// the same f32 value core's dequantizeTensor gives. Layouts of q, s, z, gidx as in
// matmul_gemv_qn.wgsl (src/core/quant/format.ts, packing.ts). ACCUMULATE: out += result.
//
// Bindings (group 0):
//   0 uniform  Params {M, N, K, group, n_groups, wpr, n_off, ldo}
//   1 read     x:    array<f32>  (M, K) row-major
//   2 read     q:    array<u32>  (N, wpr) packed codes
//   3 read     s:    array<u32>  (N, n_groups) scales: f32 bits, or fp16 pairs (SCALE_F16)
//   4 read     z:    array<u32>  (N, n_groups) zero bytes (ASYM; any buffer otherwise)
//   5 read     gidx: array<u32>  (K) (GIDX; any buffer otherwise)
//   6 rw       out:  array<f32>  (M, ldo), columns n_off .. n_off + N written; must not alias x
// Dispatch: (ceil(N / 32), ceil(M / 32)) workgroups of 16×16 threads. Tiles (32×32 outputs per
// workgroup, K in steps of 32: whole packed words for every BITS), staging and thread ownership:
// lib/gemm_tile.wgsl (prepended by src/gpu/kernel-table.ts), which calls w_hat below; scale_at
// and zero_at: lib/qn_scales.wgsl; read_code: lib/qn_code.wgsl.

override ACCUMULATE: bool = false;
override BITS: u32 = 4u;
override SCALE_F16: bool = false;
override ASYM: bool = false;
override GIDX: bool = false;

fn w_hat(n: u32, k: u32) -> f32 {
  var gk = k / p.group;
  if (GIDX) {
    gk = gidx[k];
  }
  let gi = n * p.n_groups + gk;
  return scale_at(gi) * (f32(read_code(n * p.wpr, k)) - zero_at(gi));
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  gemm_tile(wid, l);
}
