// cholesky_update — trailing update after cholesky_panel at k0 (panel width 32, rows below it):
//   A[i, j] −= Σ_{m < 32} L[i, k0 + m] · L[j, k0 + m]   for k0 + 32 ≤ j ≤ i < n
// (a SYRK on the lower triangle; tiles strictly above the diagonal are skipped, diagonal tiles
// also update their upper half, which nothing reads).
//
// Bindings (group 0):
//   0 uniform  Params {n, k0}
//   1 rw       a: array<f32>   (n, n); reads columns k0..k0+31, writes columns ≥ k0 + 32
// Dispatch: (t, t) workgroups of 16×16 threads, t = ceil((n − k0 − 32) / 32). Workgroup
// (bx, by) owns the 32×32 tile at rows k0 + 32 + by·32.., cols k0 + 32 + bx·32..; thread
// (tx, ty) owns (ty + 16i, tx + 16j), i, j ∈ {0, 1}.

const T = 32u;

var<workgroup> li: array<f32, T * T>; // panel rows i0.. (32, 32)
var<workgroup> lj: array<f32, T * T>; // panel rows j0.. (32, 32)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  if (wid.x > wid.y) {
    return; // strictly upper tile (uniform per workgroup)
  }
  let n = p.n;
  let base = p.k0 + T;
  let i0 = base + wid.y * T;
  let j0 = base + wid.x * T;
  let lid = l.y * 16u + l.x;
  for (var e = lid; e < T * T; e += 256u) {
    let r = e / T;
    let c = e % T;
    var vi = 0.0;
    var vj = 0.0;
    if (i0 + r < n) {
      vi = a[(i0 + r) * n + p.k0 + c];
    }
    if (j0 + r < n) {
      vj = a[(j0 + r) * n + p.k0 + c];
    }
    li[e] = vi;
    lj[e] = vj;
  }
  workgroupBarrier();
  var acc: array<f32, 4>;
  for (var m = 0u; m < T; m++) {
    let a0 = li[l.y * T + m];
    let a1 = li[(l.y + 16u) * T + m];
    let b0 = lj[l.x * T + m];
    let b1 = lj[(l.x + 16u) * T + m];
    acc[0] += a0 * b0;
    acc[1] += a0 * b1;
    acc[2] += a1 * b0;
    acc[3] += a1 * b1;
  }
  for (var s = 0u; s < 2u; s++) {
    for (var t = 0u; t < 2u; t++) {
      let i = i0 + l.y + 16u * s;
      let j = j0 + l.x + 16u * t;
      if (i < n && j < n) {
        a[i * n + j] -= acc[s * 2u + t];
      }
    }
  }
}
