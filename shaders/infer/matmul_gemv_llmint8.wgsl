// matmul_gemv_llmint8 — one decode token (M = 1) through LLM.int8()'s mixed matmul (CPU twin:
// matmulInt8Mixed in src/core/llmint8.ts), W (N, K) int8 per row (w ≈ q · sw[n]):
//   outlier columns: |x̂[k]| >= thr (only when OUTLIERS; thr Infinity = plain W8A8 has none);
//   amax = max |x̂| over the other columns; xq[k] = round_half_even(x̂[k] · 127 / amax), 0 on
//   outlier columns (and when amax = 0);
//   out[n_off + n] (+)= f32(Σ_k xq[k] · q[n, k]) · (amax / 127) · sw[n] + (Σ_outliers x̂[k] · q[n, k]) · sw[n].
// The int8 part is exact: dot4I8Packed on 4 codes at a time, i32 sums, an i32 reduction; the
// rounding to int8 is decided exactly (quant_i8), as the twin's f64 division does.
// Prologue (PROLOGUE) and epilogue (ACCUMULATE) as in matmul_gemv_f32; x̂ = 0 for k ≥ K.
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

struct Params {
  K: u32,
  N: u32,
  x_off: u32,
  eps: f32,
  wpr: u32,
  n_off: u32,
  thr: f32,
  outliers: u32,
}

const ROWS = 8u;
override WG: u32 = 64u;
override TC: u32 = 64u;
override PROLOGUE: u32 = 0u;
override ACCUMULATE: bool = false;
override RPT: u32 = ROWS / (WG / TC); // rows per thread

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<u32>;
@group(0) @binding(2) var<storage, read> sw: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> red: array<f32, ROWS * TC>; // (ROWS, TC) outlier partial sums; >= WG entries
var<workgroup> redi: array<i32, ROWS * TC>; // (ROWS, TC) int8 partial dot products

// Sum (op 0) or max (op 1) of v over the workgroup, returned to every thread. Uniform control flow.
fn workgroup_reduce(lid: u32, v: f32, op: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (lid < st) {
      red[lid] = select(red[lid] + red[lid + st], max(red[lid], red[lid + st]), op == 1u);
    }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

fn x_hat(k: u32, inv_rms: f32) -> f32 {
  if (k >= p.K) {
    return 0.0;
  }
  let v = x[p.x_off + k];
  switch PROLOGUE {
    case 1u: {
      return g[k] * (inv_rms * v);
    }
    case 2u: {
      return v / (1.0 + exp(-v)) * x[p.x_off + p.K + k];
    }
    default: {
      return v;
    }
  }
}

fn is_outlier(v: f32) -> bool {
  return p.outliers != 0u && abs(v) >= p.thr;
}

// (integer mantissa, biased exponent >= 1) of a finite f32 a >= 0: a = m · 2^(e − 150).
fn mant_exp(a: f32) -> vec2u {
  let b = bitcast<u32>(a);
  let e = (b >> 23u) & 255u;
  return vec2u((b & 0x7fffffu) | select(0u, 0x800000u, e != 0u), max(e, 1u));
}

// round_half_even(v · 127 / amax) for |v| <= amax, amax > 0, decided exactly: the f32 quotient
// gives a candidate c = ⌊|r|⌋ (possibly off by one only next to an integer, where it does not
// matter); |r| against c + 1/2 is 254·|v| against (2c + 1)·amax, compared as integers.
fn quant_i8(v: f32, amax: f32) -> i32 {
  let c = u32(min(floor(abs(v) * 127.0 / amax), 127.0));
  let a = mant_exp(abs(v));
  let b = mant_exp(amax);
  let X = 254u * a.x; // < 2^32
  let Y = (2u * c + 1u) * b.x; // < 2^32
  let d = b.y - a.y; // >= 0 since |v| <= amax
  var cmp = -1; // sign of X · 2^a.y − Y · 2^b.y
  if (d < 32u) {
    let hi = X >> d;
    if (hi != Y) {
      cmp = select(-1, 1, hi > Y);
    } else {
      cmp = select(0, 1, (X & ((1u << d) - 1u)) != 0u);
    }
  }
  var t = c;
  if (cmp > 0 || (cmp == 0 && (c & 1u) == 1u)) {
    t = c + 1u;
  }
  return select(-i32(t), i32(t), v >= 0.0);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let n0 = (wid.y * nwg.x + wid.x) * ROWS;
  if (n0 >= p.N) {
    return; // whole workgroup leaves together: n0 is uniform
  }
  let lane = lid % TC;
  let r0 = (lid / TC) * RPT;

  var inv_rms = 1.0;
  if (PROLOGUE == 1u) {
    var ss = 0.0;
    for (var k = lid; k < p.K; k += WG) {
      let v = x[p.x_off + k];
      ss += v * v;
    }
    inv_rms = 1.0 / sqrt(workgroup_reduce(lid, ss, 0u) / f32(p.K) + p.eps);
  }
  var m = 0.0;
  for (var k = lid; k < p.K; k += WG) {
    let v = x_hat(k, inv_rms);
    if (!is_outlier(v)) {
      m = max(m, abs(v));
    }
  }
  let amax = workgroup_reduce(lid, m, 1u);

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
