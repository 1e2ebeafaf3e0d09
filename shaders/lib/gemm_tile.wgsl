// gemm_tile — LIBRARY, not a kernel: the tiled prefill matmul (M > 1) shared by matmul_gemm_f32 /
// qn / nf4, prepended by the kernel table (src/gpu/kernel-table.ts). Each kernel supplies the
// decode hook `fn w_hat(n: u32, k: u32) -> f32` (weight n, k as f32: a load, or a decode of its
// packed format) and declares the uniform `p` (M, N, K, n_off, ldo), the bindings `x` (M, K)
// and `out` (M, ldo), and the override ACCUMULATE. Its entry point calls gemm_tile(wid, l).
//
//   out[m·ldo + n_off + n] (+)= Σ_k x[m, k] · w_hat(n, k), k ascending.
// Workgroups of 16×16 threads; workgroup (bx, by) owns the 32×32 output tile at rows by·32..,
// cols bx·32..; thread (tx, ty) owns outputs (ty + 16i, tx + 16j), i, j in {0, 1}. K is walked
// in steps of TK = 32 (a whole number of packed words for every code width): each step stages
// a (32, 32) slice of x and of ŵ in workgroup memory (each thread stages 4 values of each),
// zero past M, N and K, so any size works; rows are padded to 33 floats against bank conflicts.

const TILE = 32u;
const TK = 32u;
const PAD = 33u; // row stride of the staged tiles

var<workgroup> xs: array<f32, TILE * PAD>; // (TILE rows of x, TK)
var<workgroup> ws: array<f32, TILE * PAD>; // (TILE rows of ŵ, TK)

fn gemm_tile(wid: vec3u, l: vec3u) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let lid = l.y * 16u + l.x;

  var acc: array<f32, 4>; // [i * 2 + j] ↔ output (m0 + ty + 16i, n0 + tx + 16j)
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var e = lid; e < TILE * TK; e += 256u) {
      let r = e / TK;
      let c = e % TK;
      let k = k0 + c;
      var xv = 0.0;
      if (m0 + r < p.M && k < p.K) {
        xv = x[(m0 + r) * p.K + k];
      }
      xs[r * PAD + c] = xv;
      var wv = 0.0;
      if (n0 + r < p.N && k < p.K) {
        wv = w_hat(n0 + r, k);
      }
      ws[r * PAD + c] = wv;
    }
    workgroupBarrier();
    for (var c = 0u; c < TK; c++) {
      let a0 = xs[l.y * PAD + c];
      let a1 = xs[(l.y + 16u) * PAD + c];
      let b0 = ws[l.x * PAD + c];
      let b1 = ws[(l.x + 16u) * PAD + c];
      acc[0] += a0 * b0;
      acc[1] += a0 * b1;
      acc[2] += a1 * b0;
      acc[3] += a1 * b1;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 2u; i++) {
    for (var j = 0u; j < 2u; j++) {
      let m = m0 + l.y + 16u * i;
      let n = n0 + l.x + 16u * j;
      if (m < p.M && n < p.N) {
        let o = m * p.ldo + p.n_off + n;
        var v = acc[i * 2u + j];
        if (ACCUMULATE) {
          v += out[o];
        }
        out[o] = v;
      }
    }
  }
}
