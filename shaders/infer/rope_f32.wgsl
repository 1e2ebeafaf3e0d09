// rope_f32 — rotary position embedding for q and k of M rows, and the KV-cache write.
// Row m is at position pos0 + m. Pair i of a head (i < hs/2) turns by the angle in
// cs[pos, i] = (cos, sin) of pos · theta^(-2i/hs), precomputed on the CPU in f64 (GPU sin/cos
// are only accurate near [-π, π]):
//   style 0 (interleaved, llama2.c): pair (2i, 2i + 1);  style 1 (half, HF): pair (i, i + hs/2)
//   (v0, v1) → (v0·cos − v1·sin, v0·sin + v1·cos)
// q heads are rotated in place in qkv; k heads are rotated into kcache row pos0 + m, and the
// same two v values are copied (unrotated) into vcache row pos0 + m.
// Attention biases (override BIAS, Qwen2): before rotating, each value read from qkv column c
// gets bias[c] added (bias = bq;bk;bv laid out as one qkv row), so q (in place), the k cache
// and the v cache all hold biased values; the k and v columns of qkv stay as they were.
//
// Bindings (group 0):
//   0 uniform  Params {M, pos0, n_heads, n_kv, hs, stride, k_off, v_off, style}
//   1 rw       qkv:    array<f32>        (M, stride); row m holds q at 0 (n_heads·hs),
//                                        k at k_off (n_kv·hs), v at v_off (n_kv·hs)
//   2 rw       kcache: array<f32>        (seqLen, n_kv·hs)
//   3 rw       vcache: array<f32>        (seqLen, n_kv·hs)
//   4 read     cs:     array<vec2<f32>>  (seqLen, hs/2) (cos, sin)
//   5 read     bias:   array<f32>        (stride) for BIAS; any buffer otherwise (not read)
// Dispatch: ceil(M · (n_heads + n_kv) · hs/2 / 64) workgroups of 64 threads on an (x, y)
// grid; one thread per (row, head, pair), q heads first, then k heads.

override BIAS: bool = false;

// qkv[m, col] (+ bias[col] with BIAS): row_base = m · stride.
fn read_qkv(row_base: u32, col: u32) -> f32 {
  var v = qkv[row_base + col];
  if (BIAS) {
    v += bias[col];
  }
  return v;
}

@compute @workgroup_size(64)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let half = p.hs / 2u;
  let per_row = (p.n_heads + p.n_kv) * half;
  let t = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (t >= p.M * per_row) {
    return;
  }
  let m = t / per_row;
  let head = (t % per_row) / half; // 0 .. n_heads + n_kv - 1
  let i = t % half;
  let pos = p.pos0 + m;

  // Offsets of the pair within its head.
  var i0 = i;
  var i1 = i + half;
  if (p.style == 0u) {
    i0 = 2u * i;
    i1 = 2u * i + 1u;
  }
  let c = cs[pos * half + i];

  let row = m * p.stride;
  if (head < p.n_heads) {
    let col = head * p.hs;
    let v0 = read_qkv(row, col + i0);
    let v1 = read_qkv(row, col + i1);
    qkv[row + col + i0] = v0 * c.x - v1 * c.y;
    qkv[row + col + i1] = v0 * c.y + v1 * c.x;
    return;
  }

  let kh = head - p.n_heads;
  let col = kh * p.hs;
  let dst = pos * p.n_kv * p.hs + kh * p.hs;
  let k0 = read_qkv(row, p.k_off + col + i0);
  let k1 = read_qkv(row, p.k_off + col + i1);
  kcache[dst + i0] = k0 * c.x - k1 * c.y;
  kcache[dst + i1] = k0 * c.y + k1 * c.x;
  vcache[dst + i0] = read_qkv(row, p.v_off + col + i0);
  vcache[dst + i1] = read_qkv(row, p.v_off + col + i1);
}
