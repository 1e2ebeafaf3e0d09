// matmul_gemv_f16 — one decode token (M = 1) with 16-bit weights: out[n] (+)= Σ_k W[n, k] · x̂[k],
// W (N, K) stored as fp16 pairs (src/core/tensor.ts F16Tensor: element e = n·K + k is half e & 1
// of word e >> 1), widened with unpack2x16float (core WGSL: no shader-f16 needed). Arithmetic is
// f32, so the result is the f32 kernel's on the widened weights (the CPU twin widens the same way).
// Prologues (override PROLOGUE: 0 none, 1 RMSNorm, 2 SwiGLU) and the residual epilogue (ACCUMULATE)
// as matmul_gemv_f32.wgsl; workgroup reductions (no subgroups).
//
// Bindings (group 0):
//   0 uniform  Params {K, N, x_off, eps, n_off}
//   1 read     w:   array<u32>   ⌈N·K / 2⌉ words of fp16 pairs
//   2 read     x:   array<f32>   x_off + K values (x_off + 2K for PROLOGUE 2)
//   3 read     g:   array<f32>   (K) RMSNorm weight for PROLOGUE 1; any small buffer otherwise
//   4 rw       out: array<f32>   [n_off, n_off + N) written; must not alias x
// Dispatch: ceil(N / ROWS) workgroups of WG threads on an (x, y) grid; WG a power of two >= 32.
// Workgroup j owns rows j·ROWS .. j·ROWS + ROWS − 1; thread t walks k = t, t + WG, ...

const ROWS = 8u;
override WG: u32 = 128u;
override PROLOGUE: u32 = 0u;
override ACCUMULATE: bool = false;

var<workgroup> red: array<f32, ROWS * WG>; // (ROWS, WG) partial sums

fn w_at(e: u32) -> f32 {
  return unpack2x16float(w[e >> 1u])[e & 1u];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.y * nwg.x + wid.x) * ROWS;
  if (n0 >= p.N) {
    return; // whole workgroup leaves together: n0 is uniform
  }

  var inv_rms = 1.0;
  if (PROLOGUE == 1u) {
    inv_rms = rms_scale(workgroup_sum(lid, x_sum_sq(lid)));
  }

  // Rows past N (last workgroup) read row N − 1 and are never stored.
  var row: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    row[r] = min(n0 + r, p.N - 1u) * p.K;
  }
  var acc: array<f32, ROWS>;
  for (var k = lid; k < p.K; k += WG) {
    let xv = x_hat(k, inv_rms);
    for (var r = 0u; r < ROWS; r++) {
      acc[r] += w_at(row[r] + k) * xv;
    }
  }

  for (var r = 0u; r < ROWS; r++) {
    red[r * WG + lid] = acc[r];
  }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      for (var r = 0u; r < ROWS; r++) {
        red[r * WG + lid] += red[r * WG + lid + s];
      }
    }
    workgroupBarrier();
  }

  if (lid < ROWS && n0 + lid < p.N) {
    var v = red[lid * WG];
    let o = p.n_off + n0 + lid;
    if (ACCUMULATE) {
      v += out[o];
    }
    out[o] = v;
  }
}
