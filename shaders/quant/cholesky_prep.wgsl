// cholesky_prep — GPTQ steps 2–4 on the Hessian, gathered into the matrix Cholesky factors:
//   A[i, j] = Ĥ[q[i], q[j]],  Ĥ = H with dead inputs (H[c, c] == 0 → 1) and damping (+ damp on
//   the diagonal, damp = percdamp · mean(diag) computed by the host from diag(H))
// q = the act-order permutation reversed (q[i] = perm[n − 1 − i]): factoring the reversed
// matrix J Ĥ J = L Lᵀ gives the upper Cholesky factor of Ĥ⁻¹ as U = J L⁻¹ J (cholesky_reverse),
// without forming Ĥ⁻¹ (see src/gpu/quant-gptq.ts).
//
// Bindings (group 0):
//   0 uniform  Params {n, damp}
//   1 read     H: array<f32>   (n, n)
//   2 read     q: array<u32>   (n) source row / column of each destination index
//   3 rw       A: array<f32>   (n, n); must not alias H
// Dispatch: ceil(n² / 64) workgroups of 64 on an (x, y) grid (lib/per_item.wgsl); one thread per element.

fn item_count() -> u32 {
  return p.n * p.n;
}

fn item(e: u32) {
  let i = e / p.n;
  let j = e % p.n;
  var v = H[q[i] * p.n + q[j]];
  if (i == j) {
    v = select(v, 1.0, v == 0.0) + p.damp;
  }
  A[e] = v;
}
