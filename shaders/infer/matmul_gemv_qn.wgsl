// matmul_gemv_qn — one decode token (M = 1) with uniform-quantized weights W (N, K), 2, 3, 4 or
// 8 bits per code (override BITS: formats q2 / q3 / q4 / q8), decoded in registers (no f32 copy
// of W exists):  out[n_off + n] (+)= Σ_k ŵ[n, k] · x̂[k],
//   ŵ[n, k] = scale[n, g] · (q[n, k] − zero[n, g]),  g = gidx[k] (GIDX) or ⌊k / group⌋.
// The last group of a row may be ragged (group does not divide K); group = K is one per row.
//
// Layouts (src/core/quant/format.ts, packing.ts):
//   q      (N, wpr) u32 words, each row padded to whole words with code 0. A chunk = CV values
//          in CW words: BITS 8/4/2: one word of CV = 32 / BITS codes, value j at bits BITS·j;
//          BITS 3: 32 values in 3 words (bit planes): low 2 bits of value j in word j >> 4 at
//          bits 2·(j & 15), bit 2 in word 2 at bit j. Chunk c of a row is words c·CW ...
//   s      scales (N, n_groups) row-major: f32 bits, or fp16 pairs (SCALE_F16): scale i is
//          unpack2x16float(s[i >> 1])[i & 1] (no shader-f16 needed)
//   z      ASYM: zero points (N, n_groups) as bytes, byte i at bits 8·(i & 3) of word i >> 2;
//          symmetric: zero = 2^(BITS − 1)
//   gidx   GIDX: (K) group of each input column (GPTQ act-order)
// Prologue (PROLOGUE) and epilogue (ACCUMULATE) as in matmul_gemv_f32:
//   0: x̂ = x[x_off + k]; 1: x̂ = g[k] · x[x_off + k] · inv_rms (RMSNorm);
//   2: x̂ = silu(x[x_off + k]) · x[x_off + K + k] (SwiGLU, x = [gate | up]); x̂ = 0 for k ≥ K.
//
// Bindings (group 0):
//   0 uniform  Params {K, N, x_off, eps, group, n_groups, wpr, n_off}
//   1 read     q:    array<u32>  (N, wpr)
//   2 read     s:    array<u32>  scales (above)
//   3 read     z:    array<u32>  zero bytes (ASYM; any buffer otherwise)
//   4 read     gidx: array<u32>  (K) (GIDX; any buffer otherwise)
//   5 read     x:    array<f32>  x_off + K values (x_off + 2K for PROLOGUE 2)
//   6 read     g:    array<f32>  (K) RMSNorm weight (PROLOGUE 1; any buffer otherwise)
//   7 rw       out:  array<f32>  n_off + N values; must not alias x
// Dispatch: ceil(N / ROWS) workgroups of WG = TC · RG threads on an (x, y) grid; TC and WG
// powers of two, RG <= ROWS (src/gpu/matmul-quant.ts: TC ≈ number of chunks, up to 128).
// Workgroup j owns rows j·ROWS ..; thread (rg, lane) = (lid / TC, lid % TC) owns RPT = ROWS / RG
// rows and walks chunks c = lane, lane + TC, ...: it computes a chunk's CV values of x̂ once
// and uses them for all its rows (x is read once per thread and chunk, not per row). When no
// chunk straddles a group (no gidx; CV divides group, or one group per row) scale and zero are read once per chunk
// and row: acc += scale · Σ_j (q_j − zero) · x̂_j. A tree reduction over the TC lanes sums each row.
// workgroup_sum (lib/workgroup_reduce.wgsl), x_hat / x_sum_sq / rms_scale, the fused prologue
// (lib/matmul_prologue.wgsl), and store_rows, the lane reduction and store (lib/gemv_lanes.wgsl),
// and scale_at / zero_at (lib/qn_scales.wgsl) are prepended by the kernel table
// (src/gpu/kernel-table.ts).

const ROWS = 8u;
override WG: u32 = 64u;
override TC: u32 = 64u;
override PROLOGUE: u32 = 0u;
override ACCUMULATE: bool = false;
override BITS: u32 = 4u;
override SCALE_F16: bool = false;
override ASYM: bool = false;
override GIDX: bool = false;
override RPT: u32 = ROWS / (WG / TC); // rows per thread
override CV: u32 = select(32u / BITS, 32u, BITS == 3u); // values per chunk
override CW: u32 = select(1u, 3u, BITS == 3u); // words per chunk

var<workgroup> red: array<f32, ROWS * TC>; // (ROWS, TC) partial sums; >= WG entries

// Code j (< CV) of a chunk held in w (w[0] only unless BITS = 3).
fn code(w: array<u32, 3>, j: u32) -> u32 {
  if (BITS == 3u) {
    return ((w[j >> 4u] >> (2u * (j & 15u))) & 3u) | (((w[2] >> j) & 1u) << 2u);
  }
  return (w[0] >> (BITS * j)) & ((1u << BITS) - 1u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let n0 = (wid.y * nwg.x + wid.x) * ROWS;
  if (n0 >= p.N) {
    return; // whole workgroup leaves together: n0 is uniform
  }
  let lane = lid % TC;
  let r0 = (lid / TC) * RPT; // first of this thread's rows within the workgroup

  var inv_rms = 1.0;
  if (PROLOGUE == 1u) {
    inv_rms = rms_scale(workgroup_sum(lid, x_sum_sq(lid)));
  }

  // Rows past N (last workgroup) read row N - 1 and are never stored.
  var row: array<u32, ROWS>;
  for (var i = 0u; i < RPT; i++) {
    row[i] = min(n0 + r0 + i, p.N - 1u);
  }
  var acc: array<f32, ROWS>;
  let n_chunks = (p.K + CV - 1u) / CV; // = wpr / CW
  // Uniform: every chunk lies in one group (CV divides group, or one group per row).
  let one_group = !GIDX && (p.group % CV == 0u || p.n_groups == 1u);
  var xs: array<f32, 32>;
  for (var c = lane; c < n_chunks; c += TC) {
    let k0 = c * CV;
    let g0 = k0 / p.group; // the chunk's group when one_group
    for (var j = 0u; j < CV; j++) {
      xs[j] = x_hat(k0 + j, inv_rms);
    }
    for (var i = 0u; i < RPT; i++) {
      let wb = row[i] * p.wpr + c * CW;
      var w: array<u32, 3>;
      for (var t = 0u; t < CW; t++) {
        w[t] = q[wb + t];
      }
      if (one_group) {
        let gi = row[i] * p.n_groups + g0;
        let zero = zero_at(gi);
        var d = 0.0;
        for (var j = 0u; j < CV; j++) {
          d += (f32(code(w, j)) - zero) * xs[j]; // padding codes meet x̂ = 0
        }
        acc[i] += scale_at(gi) * d;
      } else {
        for (var j = 0u; j < CV && k0 + j < p.K; j++) {
          var gj = (k0 + j) / p.group;
          if (GIDX) {
            gj = gidx[k0 + j];
          }
          let gi = row[i] * p.n_groups + gj;
          acc[i] += scale_at(gi) * (f32(code(w, j)) - zero_at(gi)) * xs[j];
        }
      }
    }
  }

  store_rows(lane, r0, n0, acc);
}
