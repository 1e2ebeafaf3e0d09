// cholesky_inverse_diag — first step of X = L⁻¹ (L lower triangular, from cholesky_panel /
// cholesky_update; its diagonal blocks are in ld): the inverse of every 32×32 diagonal block, X[bb, bb] = L[bb, bb]⁻¹.
// cholesky_inverse_rows then fills the blocks below the diagonal, one block row at a time.
// Thread j computes column j of the block's inverse by forward substitution:
//   x[j, j] = 1 / L[j, j];  x[i, j] = −(Σ_{j ≤ k < i} L[i, k] x[k, j]) / L[i, i]  (i > j)
// Entries above the diagonal of X are never written (X starts zeroed).
//
// Bindings (group 0):
//   0 uniform  Params {n}
//   1 read     ld: array<f32>  (⌈n / 32⌉, 32, 32) diagonal blocks of L, from cholesky_panel
//   2 rw       X: array<f32>   (n, n), zero-initialized
// Dispatch: ceil(n / 32) workgroups of 32 threads (1-D); workgroup b owns diagonal block b
// (the last one may be smaller than 32).

const T = 32u;

var<workgroup> ls: array<f32, T * T>;
var<workgroup> xs: array<f32, T * T>;

@compute @workgroup_size(T)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) j: u32) {
  let n = p.n;
  let b0 = wid.x * T;
  let nb = min(T, n - b0);
  for (var r = 0u; r < T; r++) {
    var v = 0.0;
    if (r < nb && j <= r) {
      v = ld[b0 * T + r * T + j];
    }
    ls[r * T + j] = v;
  }
  workgroupBarrier();
  if (j < nb) {
    xs[j * T + j] = 1.0 / ls[j * T + j];
    for (var i = j + 1u; i < nb; i++) {
      var s = 0.0;
      for (var k = j; k < i; k++) {
        s += ls[i * T + k] * xs[k * T + j];
      }
      xs[i * T + j] = -s / ls[i * T + i];
    }
    for (var i = j; i < nb; i++) {
      X[(b0 + i) * n + b0 + j] = xs[i * T + j];
    }
  }
}
