// matmul_gemv_llmint8 — one decode token (M = 1) through LLM.int8()'s mixed matmul (CPU twin:
// matmulInt8Mixed in src/core/llmint8.ts), W (N, K) int8 per row (w ≈ q · sw[n]):
//   outlier columns: |x̂[k]| >= thr (only when OUTLIERS; thr Infinity = plain W8A8 has none);
//   amax = max |x̂| over the other columns; xq[k] = round_half_even(x̂[k] · 127 / amax), 0 on
//   outlier columns (and when amax = 0);
//   out[n_off + n] (+)= f32(Σ_k xq[k] · q[n, k]) · (amax / 127) · sw[n] + (Σ_outliers x̂[k] · q[n, k]) · sw[n].
// The int8 part is exact: dot4I8Packed on 4 codes at a time, i32 sums, an i32 reduction; the
// rounding to int8 is decided exactly (quant_i8), as the twin's f64 division does.
// Prologue (PROLOGUE) and epilogue (ACCUMULATE) as in matmul_gemv_f32; x̂ = 0 for k ≥ K.
// Prepended by the kernel table (src/gpu/kernel-table.ts): workgroup_sum / workgroup_max
// (lib/workgroup_reduce.wgsl), x_hat (lib/matmul_prologue.wgsl), quant_i8 (lib/int8_round.wgsl).
//
// Bindings (group 0):
//   0 uniform  Params {K, N, x_off, eps, wpr, n_off, thr, outliers}
//   1 read     q:   array<u32>  (N, wpr) int8 codes, 4 per word, value k at bits 8·(k & 3)
//                               of word k >> 2 (two's complement; rows padded with 0)
//   2 read     sw:  array<f32>  (N) row scales (absmax / 127)
//   3 read     x:   array<f32>  x_off + K values (x_off + 2K for PROLOGUE 2)
//   4 read     g:   array<f32>  (K) RMSNorm weight (PROLOGUE 1; any buffer otherwise)
//   5 rw       out: array<f32>  n_off + N values; must not alias x
// Dispatch: ceil(N / ROWS) workgroups of WG = TC · RG threads on an (x, y) grid, as
// matmul_gemv_qn: thread (lid / TC, lid % TC) owns RPT = ROWS / RG rows and walks words
// c = lane, lane + TC, ... (4 columns each). Every workgroup first finds amax over the
// non-outlier x̂ itself (one pass over x), so decode needs no separate quantize dispatch.

const ROWS = 8u;
override WG: u32 = 64u;
override TC: u32 = 64u;
override PROLOGUE: u32 = 0u;
override ACCUMULATE: bool = false;
override RPT: u32 = ROWS / (WG / TC); // rows per thread

var<workgroup> red: array<f32, ROWS * TC>; // (ROWS, TC) outlier partial sums; >= WG entries
var<workgroup> redi: array<i32, ROWS * TC>; // (ROWS, TC) int8 partial dot products

// Sum (op 0) or max (op 1) of v over the workgroup, returned to every thread. Uniform control flow.
fn is_outlier(v: f32) -> bool {
  return p.outliers != 0u && abs(v) >= p.thr;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.y * nwg.x + wid.x) * ROWS;
  if (n0 >= p.N) {
    return; // whole workgroup leaves together: n0 is uniform
  }
  let lane = lid % TC;
  let r0 = (lid / TC) * RPT;

  var inv_rms = 1.0;
  if (PROLOGUE == 1u) {
    inv_rms = rms_scale(workgroup_sum(lid, x_sum_sq(lid)));
  }
  var m = 0.0;
  for (var k = lid; k < p.K; k += WG) {
    let v = x_hat(k, inv_rms);
    if (!is_outlier(v)) {
      m = max(m, abs(v));
    }
  }
  let amax = workgroup_max(lid, m);

  var row: array<u32, ROWS>; // rows past N read row N - 1 and are never stored
  for (var i = 0u; i < RPT; i++) {
    row[i] = min(n0 + r0 + i, p.N - 1u);
  }
  var acci: array<i32, ROWS>;
  var accf: array<f32, ROWS>;
  for (var c = lane; c < p.wpr; c += TC) {
    var xv: vec4f;
    var qv: vec4i;
    var outl = 0u; // bit j: column 4c + j is an outlier
    for (var j = 0u; j < 4u; j++) {
      xv[j] = x_hat(4u * c + j, inv_rms);
      if (is_outlier(xv[j])) {
        outl |= 1u << j;
      } else if (amax > 0.0) {
        qv[j] = quant_i8(xv[j], amax);
      }
    }
    let xq = pack4xI8(qv);
    for (var i = 0u; i < RPT; i++) {
      let w = q[row[i] * p.wpr + c];
      acci[i] += dot4I8Packed(xq, w);
      if (outl != 0u) {
        let wv = unpack4xI8(w);
        for (var j = 0u; j < 4u; j++) {
          if ((outl & (1u << j)) != 0u) {
            accf[i] += xv[j] * f32(wv[j]);
          }
        }
      }
    }
  }

  for (var i = 0u; i < RPT; i++) {
    redi[(r0 + i) * TC + lane] = acci[i];
    red[(r0 + i) * TC + lane] = accf[i];
  }
  workgroupBarrier();
  for (var st = TC / 2u; st > 0u; st >>= 1u) {
    if (lane < st) {
      for (var i = 0u; i < RPT; i++) {
        let o = (r0 + i) * TC + lane;
        redi[o] += redi[o + st];
        red[o] += red[o + st];
      }
    }
    workgroupBarrier();
  }

  if (lane == 0u) {
    let sx = amax / 127.0;
    for (var i = 0u; i < RPT; i++) {
      let n = n0 + r0 + i;
      if (n < p.N) {
        let o = (r0 + i) * TC;
        var v = f32(redi[o]) * sx * sw[n] + red[o] * sw[n];
        if (ACCUMULATE) {
          v += out[p.n_off + n];
        }
        out[p.n_off + n] = v;
      }
    }
  }
}
