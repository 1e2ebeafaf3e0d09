// matmul_gemm_f32 — prefill (M > 1): out[m·ldo + n_off + n] (+)= Σ_k x[m, k] · W[n, k],
// W (N, K) f32 [out, in]: columns n_off .. n_off + N of an output with rows of ldo values (a row
// part of a split weight writes its slice; n_off = 0, ldo = N for a whole weight).
// Epilogue (override ACCUMULATE): out += result (residual add) instead of out = result.
//
// Bindings (group 0):
//   0 uniform  Params {M, N, K, n_off, ldo}
//   1 read     x:   array<f32>   (M, K) row-major
//   2 read     w:   array<f32>   (N, K) row-major
//   3 rw       out: array<f32>   (M, ldo); must not alias x
// Dispatch: (ceil(N / 32), ceil(M / 32)) workgroups of 16×16 threads. Workgroup (bx, by)
// owns the 32×32 output tile at rows by*32.., cols bx*32..; thread (tx, ty) owns outputs
// (ty + 16i, tx + 16j) for i, j in {0, 1}. K is walked in steps of TK = 16: each step stages
// a (32, 16) slice of x and of W in workgroup memory, zero-filled past M, N and K, so any
// size works.

struct Params {
  M: u32,
  N: u32,
  K: u32,
  n_off: u32,
  ldo: u32,
}

const TILE = 32u;
const TK = 16u;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> xs: array<f32, TILE * TK>; // (TILE rows of x, TK)
var<workgroup> ws: array<f32, TILE * TK>; // (TILE rows of W, TK)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let lid = l.y * 16u + l.x;

  var acc: array<f32, 4>; // [i * 2 + j] ↔ output (m0 + ty + 16i, n0 + tx + 16j)
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    // 256 threads stage 512 values of each slice: entries lid and lid + 256.
    for (var e = lid; e < TILE * TK; e += 256u) {
      let r = e / TK;
      let k = k0 + e % TK;
      var xv = 0.0;
      if (m0 + r < p.M && k < p.K) {
        xv = x[(m0 + r) * p.K + k];
      }
      xs[e] = xv;
      var wv = 0.0;
      if (n0 + r < p.N && k < p.K) {
        wv = w[(n0 + r) * p.K + k];
      }
      ws[e] = wv;
    }
    workgroupBarrier();
    for (var c = 0u; c < TK; c++) {
      let a0 = xs[l.y * TK + c];
      let a1 = xs[(l.y + 16u) * TK + c];
      let b0 = ws[l.x * TK + c];
      let b1 = ws[(l.x + 16u) * TK + c];
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
        var v = acc[i * 2u + j];
        let o = m * p.ldo + p.n_off + n;
        if (ACCUMULATE) {
          v += out[o];
        }
        out[o] = v;
      }
    }
  }
}
