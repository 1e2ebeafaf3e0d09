// hessian_accum — GPTQ's running-average Hessian of one linear layer's calibration inputs:
//   H (K, K) = decay · H + f · Xᵀ X,   X (T, K) one token's input vector per row
// with decay = n / (n + T) and f = 2 / (n + T) (n tokens seen before), so that after every add
// H = (2 / n) Σ x xᵀ over all n tokens, as src/core/gptq.ts HessianAccumulator (f64 there, f32 here).
//
// Bindings (group 0):
//   0 uniform  Params {K, T, x_off, decay, f}
//   1 read     x: array<f32>   (T, K) row-major from element x_off (an activation buffer as the
//                              forward left it, or an upload at 0)
//   2 rw       H: array<f32>   (K, K) row-major
// Dispatch: (ceil(K / 32), ceil(K / 32)) workgroups of 16×16 threads. Workgroup (bx, by) owns
// the 32×32 tile of H at rows by·32.., cols bx·32..; thread (tx, ty) owns (ty + 16i, tx + 16j),
// i, j ∈ {0, 1}. Tokens are walked 16 at a time, staging the two (16, 32) column slices of X in
// workgroup memory, zero-filled past T and K.

const TILE = 32u;
const TT = 16u;

var<workgroup> xi: array<f32, TT * TILE>; // (TT tokens, 32 columns i0..)
var<workgroup> xj: array<f32, TT * TILE>; // (TT tokens, 32 columns j0..)

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let i0 = wid.y * TILE;
  let j0 = wid.x * TILE;
  let lid = l.y * 16u + l.x;
  var acc: array<f32, 4>; // [a * 2 + b] ↔ H(i0 + ty + 16a, j0 + tx + 16b)
  for (var t0 = 0u; t0 < p.T; t0 += TT) {
    for (var e = lid; e < TT * TILE; e += 256u) {
      let t = t0 + e / TILE;
      let c = e % TILE;
      var vi = 0.0;
      var vj = 0.0;
      if (t < p.T) {
        if (i0 + c < p.K) {
          vi = x[p.x_off + t * p.K + i0 + c];
        }
        if (j0 + c < p.K) {
          vj = x[p.x_off + t * p.K + j0 + c];
        }
      }
      xi[e] = vi;
      xj[e] = vj;
    }
    workgroupBarrier();
    for (var t = 0u; t < TT; t++) {
      let a0 = xi[t * TILE + l.y];
      let a1 = xi[t * TILE + l.y + 16u];
      let b0 = xj[t * TILE + l.x];
      let b1 = xj[t * TILE + l.x + 16u];
      acc[0] += a0 * b0;
      acc[1] += a0 * b1;
      acc[2] += a1 * b0;
      acc[3] += a1 * b1;
    }
    workgroupBarrier();
  }
  for (var a = 0u; a < 2u; a++) {
    for (var b = 0u; b < 2u; b++) {
      let i = i0 + l.y + 16u * a;
      let j = j0 + l.x + 16u * b;
      if (i < p.K && j < p.K) {
        let o = i * p.K + j;
        H[o] = p.decay * H[o] + p.f * acc[a * 2u + b];
      }
    }
  }
}
