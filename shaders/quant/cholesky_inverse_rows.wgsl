// cholesky_inverse_rows — block row bi of X = L⁻¹ below the diagonal, given the diagonal blocks
// (cholesky_inverse_diag) and block rows < bi (earlier dispatches of this kernel):
//   X[bi, cj] = −X[bi, bi] · Σ_{cj ≤ kb < bi} L[bi, kb] · X[kb, cj]     for every cj < bi
// (from L X = I; X[kb, cj] = 0 for kb < cj). Blocks are 32×32; the last block row / column may
// be partial: reads past n are zero, writes past n are skipped.
//
// Bindings (group 0):
//   0 uniform  Params {n, bi}
//   1 read     L: array<f32>   (n, n); only blocks strictly below the 32×32 diagonal are read
//   2 rw       X: array<f32>   (n, n); reads block rows ≤ bi, writes block row bi (cols < bi·32)
// Dispatch: bi workgroups of 16×16 threads (1-D); workgroup cj owns block X[bi, cj]; thread
// (tx, ty) owns rows ty + 16s and columns tx + 16t of it, s, t ∈ {0, 1}.

const T = 32u;

var<workgroup> ls: array<f32, T * T>;
var<workgroup> xs: array<f32, T * T>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let n = p.n;
  let r0 = p.bi * T;
  let c0 = wid.x * T;
  let lid = l.y * 16u + l.x;
  var acc: array<f32, 4>; // T[ty + 16s, tx + 16t] = Σ L[bi, kb] X[kb, cj]
  for (var k0 = c0; k0 < r0; k0 += T) {
    for (var e = lid; e < T * T; e += 256u) {
      let r = e / T;
      let c = e % T;
      var v = 0.0;
      if (r0 + r < n) {
        v = L[(r0 + r) * n + k0 + c];
      }
      ls[e] = v;
      xs[e] = X[(k0 + r) * n + c0 + c]; // k0 + r < r0 ≤ n, c0 + c < r0
    }
    workgroupBarrier();
    for (var m = 0u; m < T; m++) {
      let a0 = ls[l.y * T + m];
      let a1 = ls[(l.y + 16u) * T + m];
      let b0 = xs[m * T + l.x];
      let b1 = xs[m * T + l.x + 16u];
      acc[0] += a0 * b0;
      acc[1] += a0 * b1;
      acc[2] += a1 * b0;
      acc[3] += a1 * b1;
    }
    workgroupBarrier();
  }
  // ls ← the partial product, xs ← X[bi, bi]; then X[bi, cj] = −X[bi, bi] · ls.
  for (var s = 0u; s < 2u; s++) {
    for (var t = 0u; t < 2u; t++) {
      ls[(l.y + 16u * s) * T + l.x + 16u * t] = acc[s * 2u + t];
    }
  }
  for (var e = lid; e < T * T; e += 256u) {
    let r = e / T;
    let c = e % T;
    var v = 0.0;
    if (r0 + r < n && r0 + c < n && c <= r) {
      v = X[(r0 + r) * n + r0 + c];
    }
    xs[e] = v;
  }
  workgroupBarrier();
  for (var s = 0u; s < 2u; s++) {
    for (var t = 0u; t < 2u; t++) {
      let r = l.y + 16u * s;
      let c = l.x + 16u * t;
      var y = 0.0;
      for (var m = 0u; m <= r; m++) {
        y += xs[r * T + m] * ls[m * T + c];
      }
      if (r0 + r < n) {
        X[(r0 + r) * n + c0 + c] = -y;
      }
    }
  }
}
