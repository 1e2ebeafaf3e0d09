// add_f32 — residual add in place: x[i] += y[i] for i < n.
// (The runner folds residual adds into the matmul epilogue, ACCUMULATE; this kernel is for
// the cases a matmul cannot fuse.)
//
// Bindings (group 0):
//   0 uniform  Params {n}
//   1 rw       x: array<f32>   (n)
//   2 read     y: array<f32>   (n); must not alias x
// Dispatch: ceil(n / 64) workgroups of 64 threads on an (x, y) grid, one value each.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (i < p.n) {
    x[i] += y[i];
  }
}
