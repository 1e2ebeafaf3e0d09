// matmul_gemv_f32_sg — matmul_gemv_f32 with subgroup reductions (feature "subgroups").
// out[n] (+)= Σ_k W[n, k] · x̂[k], W (N, K) f32, one decode token (M = 1).
// Same prologue/epilogue overrides, bindings, dispatch and row ownership as matmul_gemv_f32;
// only the two reductions differ: subgroupAdd inside each subgroup, then one partial per
// subgroup through workgroup memory, summed by one thread per row.
// Subgroup size is read from @builtin(subgroup_size), never assumed (SwiftShader: 4,
// NVIDIA: 32). Assumes a subgroup is a contiguous run of local_invocation_index (the usual
// compute layout on Vulkan, D3D12 and Metal, but not a WGSL guarantee: the GPU tests check it
// on the test device; disableSubgroups is the way out) and subgroup_size >= 4 (WGSL's
// minimum), which sizes `part`. A subgroup may be wider than the workgroup (WG = 32 on
// 64-wide hardware): then the workgroup is one subgroup. x_hat, the fused prologue, is
// lib/matmul_prologue.wgsl, prepended by the kernel table (src/gpu/kernel-table.ts).
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

enable subgroups;

const ROWS = 8u;
override WG: u32 = 128u;
override PROLOGUE: u32 = 0u;
override ACCUMULATE: bool = false;
override MAX_SUBGROUPS: u32 = WG / 4u; // subgroup_size >= 4

var<workgroup> part: array<f32, ROWS * MAX_SUBGROUPS>; // (ROWS, subgroups) partial sums
var<workgroup> total: f32;

// Sum of v over the workgroup, returned to every thread. Call from uniform control flow.
fn workgroup_sum(lid: u32, lane: u32, sg_size: u32, v: f32) -> f32 {
  let s = subgroupAdd(v);
  if (lane == 0u) {
    part[lid / sg_size] = s;
  }
  workgroupBarrier();
  if (lid == 0u) {
    var t = 0.0;
    for (var j = 0u; j < (WG + sg_size - 1u) / sg_size; j++) {
      t += part[j];
    }
    total = t;
  }
  workgroupBarrier();
  let result = total;
  workgroupBarrier(); // all have read `total` and `part` before they are written again
  return result;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) sg_size: u32,
) {
  let n0 = (wid.y * nwg.x + wid.x) * ROWS;
  if (n0 >= p.N) {
    return; // whole workgroup leaves together: n0 is uniform
  }

  var inv_rms = 1.0;
  if (PROLOGUE == 1u) {
    inv_rms = rms_scale(workgroup_sum(lid, lane, sg_size, x_sum_sq(lid)));
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

  let n_sg = (WG + sg_size - 1u) / sg_size; // 1 when one subgroup spans the workgroup
  for (var r = 0u; r < ROWS; r++) {
    let s = subgroupAdd(acc[r]);
    if (lane == 0u) {
      part[r * MAX_SUBGROUPS + lid / sg_size] = s;
    }
  }
  workgroupBarrier();

  if (lid < ROWS && n0 + lid < p.N) {
    var v = 0.0;
    for (var j = 0u; j < n_sg; j++) {
      v += part[lid * MAX_SUBGROUPS + j];
    }
    let o = p.n_off + n0 + lid;
    if (ACCUMULATE) {
      v += out[o];
    }
    out[o] = v;
  }
}
