// cholesky_reverse — U = J X J restricted to the upper triangle: U[i, j] = X[n−1−i, n−1−j] for
// i ≤ j, 0 below. With X = L⁻¹ of the reversed matrix (cholesky_inverse_*), U is the upper
// Cholesky factor of Ĥ⁻¹ (Ĥ⁻¹ = Uᵀ U), what src/core/linalg.ts upperCholeskyOfInverse returns.
//
// Bindings (group 0):
//   0 uniform  Params {n}
//   1 read     X: array<f32>   (n, n) lower triangular
//   2 rw       U: array<f32>   (n, n); must not alias X
// Dispatch: ceil(n² / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per element.

fn item_count() -> u32 {
  return p.n * p.n;
}

fn item(e: u32) {
  let i = e / p.n;
  let j = e % p.n;
  var v = 0.0;
  if (i <= j) {
    v = X[(p.n - 1u - i) * p.n + (p.n - 1u - j)];
  }
  U[e] = v;
}
