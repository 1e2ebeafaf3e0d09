// argmax_f32 — index of the largest of x[off .. off + n); ties go to the lowest index (as
// llama2.c and src/core/ops.ts argmax). Result is relative to off.
//
// Bindings (group 0):
//   0 uniform  Params {n, off}
//   1 read     x:   array<f32>   (off + n) — e.g. logits (M, vocab) with off = (M - 1) * vocab
//   2 rw       out: array<u32>   out[0] = the index
// Dispatch: exactly one workgroup of 256 threads. Thread t scans t, t + 256, ... keeping its
// first maximum; a tree reduction then keeps the larger value, or the lower index on a tie.

const WG = 256u;
const NONE = 0xffffffffu;

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

// Whether candidate (v, i) beats the current best (bv, bi); NONE marks "no candidate".
fn beats(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  if (i == NONE) {
    return false;
  }
  return bi == NONE || v > bv || (v == bv && i < bi);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var bv = 0.0;
  var bi = NONE;
  for (var i = lid; i < p.n; i += WG) {
    let v = x[p.off + i];
    if (beats(v, i, bv, bi)) {
      bv = v;
      bi = i;
    }
  }
  best_v[lid] = bv;
  best_i[lid] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s && beats(best_v[lid + s], best_i[lid + s], best_v[lid], best_i[lid])) {
      best_v[lid] = best_v[lid + s];
      best_i[lid] = best_i[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[0] = best_i[0];
  }
}
