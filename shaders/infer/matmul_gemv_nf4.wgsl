// matmul_gemv_nf4 — one decode token (M = 1) with bitsandbytes 4-bit codebook weights W (N, K)
// (override CODEBOOK: 0 NF4, 1 FP4), decoded in registers (no f32 copy of W exists):
//   out[n_off + n] (+)= Σ_k ŵ[n, k] · x̂[k],  ŵ = CODE[q[e]] · absmax[⌊e / block⌋],  e = n·K + k
// (blocks of `block` (64) elements run over the flattened [N, K] tensor and may cross rows).
// Layout (src/core/quant/format.ts, packing.ts): two codes per byte, element e in word e >> 3
// at bit 8·((e >> 1) & 3) + (e & 1 ? 0 : 4) (first element in the HIGH nibble); absmax f32
// (double-quantized absmax is decoded to f32 at upload, src/gpu/weights.ts).
// Prologue (PROLOGUE) and epilogue (ACCUMULATE) as in matmul_gemv_f32 (x̂ = 0 for k ≥ K).
//
// Bindings (group 0):
//   0 uniform  Params {K, N, x_off, eps, block, n_off}
//   1 read     q:      array<u32>  ⌈N·K / 8⌉ words
//   2 read     absmax: array<f32>  ⌈N·K / block⌉
//   3 read     x:      array<f32>  x_off + K values (x_off + 2K for PROLOGUE 2)
//   4 read     g:      array<f32>  (K) RMSNorm weight (PROLOGUE 1; any buffer otherwise)
//   5 rw       out:    array<f32>  n_off + N values; must not alias x
// Dispatch: ceil(N / ROWS) workgroups of WG = TC · RG threads on an (x, y) grid, as
// matmul_gemv_qn: thread (lid / TC, lid % TC) owns RPT = ROWS / RG rows and walks chunks of
// CV = 8 columns c = lane, lane + TC, ..., computing x̂ once per chunk for all its rows. When
// K and block are multiples of 8 a chunk is one word in one block: acc += absmax · Σ CODE·x̂.
// workgroup_sum (lib/workgroup_reduce.wgsl), x_hat / x_sum_sq / rms_scale, the fused prologue
// (lib/matmul_prologue.wgsl), and store_rows, the lane reduction and store (lib/gemv_lanes.wgsl),
// and code_value (lib/nf4_codebook.wgsl) are prepended by the kernel table
// (src/gpu/kernel-table.ts).

const ROWS = 8u;
const CV = 8u; // columns per chunk
override WG: u32 = 64u;
override TC: u32 = 64u;
override PROLOGUE: u32 = 0u;
override ACCUMULATE: bool = false;
override CODEBOOK: u32 = 0u;
override RPT: u32 = ROWS / (WG / TC); // rows per thread

var<workgroup> red: array<f32, ROWS * TC>; // (ROWS, TC) partial sums; >= WG entries

// Code of flattened element e.
fn code(e: u32) -> u32 {
  return (q[e >> 3u] >> (8u * ((e >> 1u) & 3u) + select(4u, 0u, (e & 1u) == 1u))) & 15u;
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

  var row: array<u32, ROWS>; // rows past N read row N - 1 and are never stored
  for (var i = 0u; i < RPT; i++) {
    row[i] = min(n0 + r0 + i, p.N - 1u);
  }
  var acc: array<f32, ROWS>;
  let n_chunks = (p.K + CV - 1u) / CV;
  let aligned = p.K % CV == 0u && p.block % CV == 0u; // uniform: a chunk = one word, one block
  var xs: array<f32, CV>;
  for (var c = lane; c < n_chunks; c += TC) {
    let k0 = c * CV;
    for (var j = 0u; j < CV; j++) {
      xs[j] = x_hat(k0 + j, inv_rms);
    }
    for (var i = 0u; i < RPT; i++) {
      let e0 = row[i] * p.K + k0;
      if (aligned) {
        let w = q[e0 >> 3u];
        var d = 0.0;
        for (var j = 0u; j < CV; j++) {
          d += code_value((w >> (8u * (j >> 1u) + select(4u, 0u, (j & 1u) == 1u))) & 15u) * xs[j];
        }
        acc[i] += absmax[e0 / p.block] * d;
      } else {
        for (var j = 0u; j < CV && k0 + j < p.K; j++) {
          let e = e0 + j;
          acc[i] += code_value(code(e)) * absmax[e / p.block] * xs[j];
        }
      }
    }
  }

  store_rows(lane, r0, n0, acc);
}
