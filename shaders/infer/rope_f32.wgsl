// rope_f32 — rotary position embedding for q and k of M rows, and the KV-cache write, with
// the attention biases (Qwen2) and a per-head q/k RMSNorm (Qwen3) fused in before rotating.
// Row m is at position pos0 + m. Pair i of a head (i < hs/2) turns by the angle in
// cs[pos, i] = (cos, sin) of pos · invFreq[i], precomputed on the CPU in f64 from the model's
// inverse frequencies (src/core/model/rope.ts ropeInvFreq: theta^(-2i/hs), or its llama3 /
// linear rescaling; GPU sin/cos are only accurate near [-π, π]):
//   style 0 (interleaved, llama2.c): pair (2i, 2i + 1);  style 1 (half, HF): pair (i, i + hs/2)
//   (v0, v1) → (v0·cos − v1·sin, v0·sin + v1·cos)
// q heads are rotated in place in qkv; k heads are rotated into kcache row pos0 + m, and the
// same two v values are copied (unrotated) into vcache row pos0 + m.
// Attention biases (override BIAS, Qwen2): before rotating, each value read from qkv column c
// gets bias[c] added (bias = bq;bk;bv laid out as one qkv row), so q (in place), the k cache
// and the v cache all hold biased values; the k and v columns of qkv stay as they were.
// q/k norm (override QK_NORM, Qwen3): after the bias, before rotating, each q or k head's hs
// values x become w[j] · (x[j] / sqrt(mean(x²) + eps)), w = qk_norm[0 .. hs) for q heads and
// qk_norm[hs .. 2·hs) for k heads (ops.rmsnorm on rows of hs); v is not normed.
//
// Bindings (group 0):
//   0 uniform  Params {M, pos0, n_heads, n_kv, hs, stride, k_off, v_off, style, eps}
//   1 rw       qkv:     array<f32>        (M, stride); row m holds q at 0 (n_heads·hs),
//                                         k at k_off (n_kv·hs), v at v_off (n_kv·hs)
//   2 rw       kcache:  array<f32>        (seqLen, n_kv·hs)
//   3 rw       vcache:  array<f32>        (seqLen, n_kv·hs)
//   4 read     cs:      array<vec2<f32>>  (seqLen, hs/2) (cos, sin)
//   5 read     bias:    array<f32>        (stride) for BIAS; any buffer otherwise (not read)
//   6 read     qk_norm: array<f32>        (2·hs) q;k norm weights for QK_NORM; any buffer otherwise
// Dispatch: M · (n_heads + n_kv) workgroups of WG threads (override, a power of two,
// src/gpu/kernels.ts ropeWorkgroupSize) on an (x, y) grid: one workgroup per (row, head), q heads
// first, then k heads; thread t owns pairs t, t + WG, ... With QK_NORM the head's sum of squares
// is a tree reduction (workgroup_sum, shaders/lib/workgroup_reduce.wgsl) before any write.

override BIAS: bool = false;
override QK_NORM: bool = false;
override WG: u32 = 64u;

var<workgroup> red: array<f32, WG>; // workgroup_sum scratch (QK_NORM)

// qkv[m, col] (+ bias[col] with BIAS): row_base = m · stride.
fn read_qkv(row_base: u32, col: u32) -> f32 {
  var v = qkv[row_base + col];
  if (BIAS) {
    v += bias[col];
  }
  return v;
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let half = p.hs / 2u;
  let heads = p.n_heads + p.n_kv;
  let g = wid.y * nwg.x + wid.x;
  if (g >= p.M * heads) {
    return; // whole workgroup leaves together: g is uniform
  }
  let m = g / heads;
  let head = g % heads; // 0 .. n_heads + n_kv - 1
  let pos = p.pos0 + m;
  let row = m * p.stride;
  let is_q = head < p.n_heads;
  let kh = head - p.n_heads; // k head (k heads only)
  var col = head * p.hs; // the head's first column in qkv
  var w_off = 0u; // its norm weights in qk_norm
  if (!is_q) {
    col = p.k_off + kh * p.hs;
    w_off = p.hs;
  }

  var inv = 1.0;
  if (QK_NORM) {
    var ss = 0.0;
    for (var j = lid; j < p.hs; j += WG) {
      let v = read_qkv(row, col + j);
      ss += v * v;
    }
    // The barrier inside also orders these reads of q before the in-place writes below.
    inv = 1.0 / sqrt(workgroup_sum(lid, ss) / f32(p.hs) + p.eps);
  }

  let dst = pos * p.n_kv * p.hs + kh * p.hs; // k head's cache row (k heads only)
  for (var i = lid; i < half; i += WG) {
    // Offsets of the pair within its head.
    var i0 = i;
    var i1 = i + half;
    if (p.style == 0u) {
      i0 = 2u * i;
      i1 = 2u * i + 1u;
    }
    let c = cs[pos * half + i];
    var v0 = read_qkv(row, col + i0);
    var v1 = read_qkv(row, col + i1);
    if (QK_NORM) {
      v0 = qk_norm[w_off + i0] * (inv * v0);
      v1 = qk_norm[w_off + i1] * (inv * v1);
    }
    let r0 = v0 * c.x - v1 * c.y;
    let r1 = v0 * c.y + v1 * c.x;
    if (is_q) {
      qkv[row + col + i0] = r0;
      qkv[row + col + i1] = r1;
    } else {
      kcache[dst + i0] = r0;
      kcache[dst + i1] = r1;
      let vcol = p.v_off + kh * p.hs;
      vcache[dst + i0] = read_qkv(row, vcol + i0);
      vcache[dst + i1] = read_qkv(row, vcol + i1);
    }
  }
}
