// matmul_prep_llmint8 — the activation half of LLM.int8()'s mixed matmul for M > 1 rows
// (prefill; CPU twin: matmulInt8Mixed / outlierColumns in src/core/llmint8.ts). For x (M, K):
//   mask[k]   = any row m has |x[m, k]| >= thr (only when OUTLIERS; thr Infinity = W8A8: none)
//   amax[m]   = max |x[m, k]| over the columns not in the mask
//   xq[m, k]  = round_half_even(x[m, k] · 127 / amax[m]), 0 on mask columns (and when amax = 0)
//   sx[m]     = amax[m] / 127
// written into one scratch buffer that matmul_gemm_llmint8 reads. The rounding is decided
// exactly (quant_i8 of lib/int8_round.wgsl, prepended by src/gpu/kernel-table.ts), as the twin's
// f64 division does.
//
// Bindings (group 0):
//   0 uniform  Params {M, K, wpr, thr, outliers, mask_off, sx_off, xq_off}
//   1 read     x:       array<f32>  (M, K) row-major
//   2 rw       scratch: array<u32>  words: mask_off + ⌈K / 32⌉ outlier bits (column k: word
//                                   k >> 5, bit k & 31) · sx_off + M f32 bits · xq_off + (M, wpr)
//                                   int8 codes, 4 per word (value k at bits 8·(k & 3) of word
//                                   k >> 2), wpr = ⌈K / 4⌉
// Dispatch: M workgroups of WG threads on an (x, y) grid, workgroup m = row m. Each workgroup
// builds the whole mask in workgroup memory (thread t scans columns t, t + WG, ... over all M
// rows, coalesced, and sets their bits with atomicOr); workgroup 0 also stores it. Then the
// row's amax (a max reduction) and its packed codes. K <= 32 · MASK_WORDS.

const WG = 64u;
const MASK_WORDS = 1024u; // K <= 32768

var<workgroup> mask: array<atomic<u32>, MASK_WORDS>; // zero-initialized
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m = wid.y * nwg.x + wid.x;
  if (m >= p.M) {
    return; // whole workgroup leaves together
  }
  if (p.outliers != 0u) {
    for (var k = lid; k < p.K; k += WG) {
      for (var r = 0u; r < p.M; r++) {
        if (abs(x[r * p.K + k]) >= p.thr) {
          atomicOr(&mask[k >> 5u], 1u << (k & 31u));
          break;
        }
      }
    }
  }
  workgroupBarrier();
  if (m == 0u) {
    for (var w = lid; w < (p.K + 31u) / 32u; w += WG) {
      scratch[p.mask_off + w] = atomicLoad(&mask[w]);
    }
  }

  var mx = 0.0;
  for (var k = lid; k < p.K; k += WG) {
    if ((atomicLoad(&mask[k >> 5u]) & (1u << (k & 31u))) == 0u) {
      mx = max(mx, abs(x[m * p.K + k]));
    }
  }
  let amax = workgroup_max(lid, mx);

  for (var c = lid; c < p.wpr; c += WG) {
    var qv: vec4i;
    for (var j = 0u; j < 4u; j++) {
      let k = 4u * c + j;
      if (k < p.K && amax > 0.0 && (atomicLoad(&mask[k >> 5u]) & (1u << (k & 31u))) == 0u) {
        qv[j] = quant_i8(x[m * p.K + k], amax);
      }
    }
    scratch[p.xq_off + m * p.wpr + c] = pack4xI8(qv);
  }
  if (lid == 0u) {
    scratch[p.sx_off + m] = bitcast<u32>(amax / 127.0);
  }
}
