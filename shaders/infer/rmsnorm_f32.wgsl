// rmsnorm_f32 — RMSNorm per row: out[m, i] = weight[i] * (x[m, i] / sqrt(mean(x[m, :]²) + eps)).
//
// Bindings (group 0):
//   0 uniform  Params {M, dim, eps}
//   1 read     x:      array<f32>   (M, dim)
//   2 read     weight: array<f32>   (dim)
//   3 rw       out:    array<f32>   (M, dim); must not alias x
// Dispatch: one workgroup of 64 threads per row, M workgroups on an (x, y) grid.
// The sum of squares is a tree reduction in workgroup memory (workgroup_sum,
// lib/workgroup_reduce.wgsl; order differs from the CPU twin's sequential sum; the error stays
// within a few ulp · sqrt(dim)).

const WG = 64u;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m = wid.y * nwg.x + wid.x;
  if (m >= p.M) {
    return; // whole workgroup leaves together: m is uniform
  }
  let base = m * p.dim;
  var ss = 0.0;
  for (var i = lid; i < p.dim; i += WG) {
    let v = x[base + i];
    ss += v * v;
  }
  let inv = 1.0 / sqrt(workgroup_sum(lid, ss) / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += WG) {
    out[base + i] = weight[i] * (inv * x[base + i]);
  }
}
