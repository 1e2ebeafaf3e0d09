// cholesky_panel — one panel step of a right-looking blocked Cholesky A = L Lᵀ (lower, in place):
// columns k0 .. k0 + nb − 1, nb = min(32, n − k0). Every workgroup factors the diagonal block
// A[k0.., k0..] (nb × nb) in workgroup memory (redundantly: it is small, and it saves a
// dispatch), workgroup 0 writes L_kk to ld (NOT into A: other workgroups are still reading
// that block), then each workgroup solves 64 rows i ≥ k0 + nb of the panel below:
// L[i, k0..] = A[i, k0..] · L_kk⁻ᵀ (forward substitution, one thread per row), in place.
// cholesky_update then subtracts the panel's outer product from the trailing matrix.
// So L = the strictly-below-diagonal 32×32 blocks of A + the diagonal blocks in ld.
// Only the lower triangle is read or written (the upper keeps stale values). A pivot that is
// not > 0 (or NaN) records k0 + j + 1 in status[0] if it is still 0, and is replaced by 1 so the
// rest stays finite; the host then throws (the CPU twin's "not positive definite").
//
// Bindings (group 0):
//   0 uniform  Params {n, k0}
//   1 rw       a:      array<f32>   (n, n) row-major; columns < k0 already hold L below the
//                                   diagonal blocks
//   2 rw       ld:     array<f32>   (⌈n / 32⌉, 32, 32) diagonal blocks of L (block k0 / 32 here)
//   3 rw       status: array<u32>   (≥ 1)
// Dispatch: max(1, ceil((n − k0 − 32) / 64)) workgroups of 64 threads (1-D).

const NB = 32u;
const WG = 64u;

var<workgroup> blk: array<f32, NB * NB>; // diagonal block, row-major
var<workgroup> bad: u32;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n = p.n;
  let k0 = p.k0;
  let nb = min(NB, n - k0);
  for (var e = lid; e < NB * NB; e += WG) {
    let r = e / NB;
    let c = e % NB;
    var v = select(0.0, 1.0, r == c); // identity padding past nb
    if (r < nb && c <= r) {
      v = a[(k0 + r) * n + k0 + c];
    }
    blk[e] = v;
  }
  if (lid == 0u) {
    bad = 0u;
  }
  workgroupBarrier();
  for (var j = 0u; j < NB; j++) {
    if (lid == 0u) {
      let d = blk[j * NB + j];
      if (d > 0.0) {
        blk[j * NB + j] = sqrt(d);
      } else {
        blk[j * NB + j] = 1.0;
        if (bad == 0u) {
          bad = j + 1u;
        }
      }
    }
    workgroupBarrier();
    if (lid > j && lid < NB) {
      blk[lid * NB + j] = blk[lid * NB + j] / blk[j * NB + j];
    }
    workgroupBarrier();
    for (var e = lid; e < NB * NB; e += WG) {
      let r = e / NB;
      let c = e % NB;
      if (c > j && r >= c) {
        blk[e] -= blk[r * NB + j] * blk[c * NB + j];
      }
    }
    workgroupBarrier();
  }
  if (wid.x == 0u) {
    for (var e = lid; e < NB * NB; e += WG) {
      let r = e / NB;
      let c = e % NB;
      ld[k0 * NB + e] = select(0.0, blk[e], r < nb && c <= r); // block k0 / 32 at (k0 / 32)·32²
    }
    if (lid == 0u && bad != 0u && status[0] == 0u) {
      status[0] = k0 + bad;
    }
  }
  let i = k0 + nb + wid.x * WG + lid;
  if (i < n) {
    var x: array<f32, NB>;
    for (var j = 0u; j < nb; j++) {
      var s = a[i * n + k0 + j];
      for (var m = 0u; m < j; m++) {
        s -= x[m] * blk[j * NB + m];
      }
      x[j] = s / blk[j * NB + j];
      a[i * n + k0 + j] = x[j];
    }
  }
}
