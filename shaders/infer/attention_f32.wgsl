// attention_f32 — causal grouped-query attention of M queries over one layer's KV cache.
// Query m sits at position pos0 + m and sees cache rows 0 .. pos0 + m (the rope kernel has
// already written rows pos0 .. pos0 + M - 1). Head h reads kv head h / (n_heads / n_kv).
//   out[m, h, :] = Σ_t softmax_t(q·k_t / sqrt(hs)) · v_t
//
// Bindings (group 0):
//   0 uniform  Params {M, pos0, n_heads, n_kv, hs, q_stride, scale}
//   1 read     q:      array<f32>   (M, q_stride); head h at columns h·hs .. h·hs + hs - 1
//                                   (q_stride > n_heads·hs when q is the front of qkv)
//   2 read     kcache: array<f32>   (seqLen, n_kv·hs)
//   3 read     vcache: array<f32>   (seqLen, n_kv·hs)
//   4 rw       out:    array<f32>   (M, n_heads·hs)
// Dispatch: (n_heads, M) workgroups of WG = 64 threads; one workgroup per (head, query).
// Keys are taken in chunks of WG, one key per thread, with an online (running-max) softmax:
// thread j scores key c0 + j into workgroup memory; after a barrier every thread reads the
// chunk's max and (after the second barrier) its exp-sum serially — same order, so the same
// value in every thread — and the running sum and output accumulators are rescaled by
// exp(old max − new max). Three barriers per chunk, any length, no ±inf ever formed.
// Weighted sum of v: thread t works on dim t % hs for keys ≡ t / hs (mod G), G = WG / hs
// key lanes per dim (threads past G·hs idle); when hs > WG, G = 1 and thread t covers dims
// t, t + WG, ... (hs <= MAX_HS, even). The G partial sums are added once at the end.

const WG = 64u;
const MAX_HS = 256u;
const NACC = MAX_HS / WG; // output dims per thread
const LOWEST = -3.0e38; // initial running max; never exponentiated

var<workgroup> qs: array<f32, MAX_HS>; // this head's query
var<workgroup> scores: array<f32, WG>; // q·k_t · scale of the chunk's keys
var<workgroup> probs: array<f32, WG>; // exp(score − running max) of the chunk's keys
var<workgroup> part: array<f32, MAX_HS>; // (G, hs) partial outputs of the key lanes

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let h = wid.x;
  let m = wid.y;
  let hs = p.hs;
  let kv_dim = p.n_kv * hs;
  let ko = (h / (p.n_heads / p.n_kv)) * hs; // this head's column offset in a cache row
  let len = p.pos0 + m + 1u; // causal: keys 0 .. pos0 + m

  for (var i = lid; i < hs; i += WG) {
    qs[i] = q[m * p.q_stride + h * hs + i];
  }
  workgroupBarrier();

  let lanes = max(1u, WG / hs); // G
  let g = lid / hs; // this thread's key lane (0 when hs > WG)
  let i0 = lid % hs; // this thread's first dim

  var run_max = LOWEST;
  var run_sum = 0.0;
  var acc: array<f32, NACC>;
  for (var c0 = 0u; c0 < len; c0 += WG) {
    let n_keys = min(WG, len - c0); // >= 1
    if (lid < n_keys) {
      let k_row = (c0 + lid) * kv_dim + ko;
      var d = 0.0;
      for (var i = 0u; i < hs; i++) {
        d += qs[i] * kcache[k_row + i];
      }
      scores[lid] = d * p.scale;
    }
    workgroupBarrier();

    var chunk_max = scores[0];
    for (var j = 1u; j < n_keys; j++) {
      chunk_max = max(chunk_max, scores[j]);
    }
    let new_max = max(run_max, chunk_max);
    if (lid < n_keys) {
      probs[lid] = exp(scores[lid] - new_max);
    }
    workgroupBarrier();

    var chunk_sum = 0.0;
    for (var j = 0u; j < n_keys; j++) {
      chunk_sum += probs[j];
    }
    var corr = 0.0; // first chunk: nothing accumulated yet
    if (c0 > 0u) {
      corr = exp(run_max - new_max);
    }
    run_sum = run_sum * corr + chunk_sum;
    run_max = new_max;

    for (var j = 0u; j < NACC; j++) {
      let i = i0 + j * WG;
      if (g < lanes && i < hs) {
        var a = acc[j] * corr;
        for (var t = g; t < n_keys; t += lanes) {
          a += probs[t] * vcache[(c0 + t) * kv_dim + ko + i];
        }
        acc[j] = a;
      }
    }
    workgroupBarrier(); // scores and probs are rewritten by the next chunk
  }

  for (var j = 0u; j < NACC; j++) {
    let i = i0 + j * WG;
    if (g < lanes && i < hs) {
      part[g * hs + i] = acc[j];
    }
  }
  workgroupBarrier();
  if (g == 0u) {
    for (var j = 0u; j < NACC; j++) {
      let i = i0 + j * WG;
      if (i < hs) {
        var total = 0.0;
        for (var gg = 0u; gg < lanes; gg++) {
          total += part[gg * hs + i];
        }
        out[(m * p.n_heads + h) * hs + i] = total / run_sum;
      }
    }
  }
}
