// matmul_gemm_llmint8 — prefill (M > 1) through LLM.int8()'s mixed matmul (CPU twin:
// matmulInt8Mixed in src/core/llmint8.ts), after matmul_prep_llmint8 has filled the scratch
// (outlier mask, sx, int8 x codes):
//   out[m·ldo + n_off + n] (+)= f32(Σ_k xq[m, k] · q[n, k]) · sx[m] · sw[n]
//                             + (Σ_{k in mask} x[m, k] · q[n, k]) · sw[n]
// The int8 part is exact (dot4I8Packed, i32 sums); the outlier part is fp32 x times the
// dequantized weight codes, as bitsandbytes does.
//
// Bindings (group 0):
//   0 uniform  Params {M, N, K, wpr, n_off, ldo, mask_off, sx_off, xq_off}
//   1 read     x:       array<f32>  (M, K) row-major (read on outlier columns only)
//   2 read     scratch: array<u32>  as written by matmul_prep_llmint8 (mask, sx, xq (M, wpr))
//   3 read     q:       array<u32>  (N, wpr) int8 codes, 4 per word, two's complement
//   4 read     sw:      array<f32>  (N) row scales
//   5 rw       out:     array<f32>  (M, ldo), columns n_off .. n_off + N written; must not alias x
// Dispatch: (ceil(N / 32), ceil(M / 32)) workgroups of 16×16 threads. Workgroup (bx, by) owns
// the 32×32 output tile at rows by·32.., cols bx·32..; thread (tx, ty) owns outputs
// (ty + 16i, tx + 16j), i, j in {0, 1}. K is walked in steps of KW = 16 words (64 columns):
// each step stages (32, 16) words of xq and of q (rows padded to 17 words), zero past M, N
// and K. Then the outlier columns (set bits of the mask, the same for every thread) add
// their fp32 products.

const TILE = 32u;
const KW = 16u;
const PAD = 17u;
override ACCUMULATE: bool = false;

var<workgroup> xs: array<u32, TILE * PAD>; // (TILE rows of xq, KW words)
var<workgroup> ws: array<u32, TILE * PAD>; // (TILE rows of q, KW words)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let lid = l.y * 16u + l.x;

  var acc: array<i32, 4>; // [i * 2 + j] ↔ output (m0 + ty + 16i, n0 + tx + 16j)
  for (var w0 = 0u; w0 < p.wpr; w0 += KW) {
    for (var e = lid; e < TILE * KW; e += 256u) {
      let r = e / KW;
      let c = e % KW;
      let w = w0 + c;
      var xv = 0u;
      if (m0 + r < p.M && w < p.wpr) {
        xv = scratch[p.xq_off + (m0 + r) * p.wpr + w];
      }
      xs[r * PAD + c] = xv;
      var wv = 0u;
      if (n0 + r < p.N && w < p.wpr) {
        wv = q[(n0 + r) * p.wpr + w];
      }
      ws[r * PAD + c] = wv;
    }
    workgroupBarrier();
    for (var c = 0u; c < KW; c++) {
      let a0 = xs[l.y * PAD + c];
      let a1 = xs[(l.y + 16u) * PAD + c];
      let b0 = ws[l.x * PAD + c];
      let b1 = ws[(l.x + 16u) * PAD + c];
      acc[0] += dot4I8Packed(a0, b0);
      acc[1] += dot4I8Packed(a0, b1);
      acc[2] += dot4I8Packed(a1, b0);
      acc[3] += dot4I8Packed(a1, b1);
    }
    workgroupBarrier();
  }

  // Rows / columns past M / N read row M - 1 / N - 1 and are never stored.
  let ms = array<u32, 2>(min(m0 + l.y, p.M - 1u), min(m0 + l.y + 16u, p.M - 1u));
  let ns = array<u32, 2>(min(n0 + l.x, p.N - 1u), min(n0 + l.x + 16u, p.N - 1u));
  var accf: array<f32, 4>;
  let n_words = (p.K + 31u) / 32u;
  for (var mw = 0u; mw < n_words; mw++) {
    var bits = scratch[p.mask_off + mw];
    while (bits != 0u) {
      let k = 32u * mw + countTrailingZeros(bits);
      bits &= bits - 1u;
      for (var j = 0u; j < 2u; j++) {
        let wq = f32(unpack4xI8(q[ns[j] * p.wpr + (k >> 2u)])[k & 3u]);
        for (var i = 0u; i < 2u; i++) {
          accf[i * 2u + j] += x[ms[i] * p.K + k] * wq;
        }
      }
    }
  }

  for (var i = 0u; i < 2u; i++) {
    for (var j = 0u; j < 2u; j++) {
      let m = m0 + l.y + 16u * i;
      let n = n0 + l.x + 16u * j;
      if (m < p.M && n < p.N) {
        let o = m * p.ldo + p.n_off + n;
        let s = sw[n];
        var v = f32(acc[i * 2u + j]) * bitcast<f32>(scratch[p.sx_off + m]) * s + accf[i * 2u + j] * s;
        if (ACCUMULATE) {
          v += out[o];
        }
        out[o] = v;
      }
    }
  }
}
