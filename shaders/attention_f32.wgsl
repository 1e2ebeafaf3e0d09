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
// per chunk, max and sum are tree reductions, and the running sum and the output
// accumulators are rescaled by exp(old max − new max). Works for any length; no ±inf is
// ever formed. Thread t accumulates output dims t, t + WG, ... (hs <= MAX_HS, even).

struct Params {
  M: u32,
  pos0: u32,
  n_heads: u32,
  n_kv: u32,
  hs: u32,
  q_stride: u32,
  scale: f32,
}

const WG = 64u;
const MAX_HS = 256u;
const NACC = MAX_HS / WG; // output dims per thread
const LOWEST = -3.0e38; // score of a padding key; never exponentiated

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kcache: array<f32>;
@group(0) @binding(3) var<storage, read> vcache: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, MAX_HS>; // this head's query
var<workgroup> probs: array<f32, WG>; // exp(score − running max) of the chunk's keys
var<workgroup> red: array<f32, WG>;

fn reduce_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] = max(red[lid], red[lid + s]);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

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

  var run_max = LOWEST;
  var run_sum = 0.0;
  var acc: array<f32, NACC>;
  for (var c0 = 0u; c0 < len; c0 += WG) {
    let t = c0 + lid;
    var s = LOWEST;
    if (t < len) {
      var d = 0.0;
      for (var i = 0u; i < hs; i++) {
        d += qs[i] * kcache[t * kv_dim + ko + i];
      }
      s = d * p.scale;
    }
    let new_max = max(run_max, reduce_max(lid, s)); // finite: key c0 < len is valid
    var e = 0.0;
    if (t < len) {
      e = exp(s - new_max);
    }
    probs[lid] = e;
    let chunk_sum = reduce_sum(lid, e); // its barriers also publish probs
    var corr = 0.0; // first chunk: nothing accumulated yet
    if (c0 > 0u) {
      corr = exp(run_max - new_max);
    }
    run_sum = run_sum * corr + chunk_sum;
    run_max = new_max;

    let n_keys = min(WG, len - c0);
    for (var j = 0u; j < NACC; j++) {
      let i = lid + j * WG;
      if (i < hs) {
        var a = acc[j] * corr;
        for (var tt = 0u; tt < n_keys; tt++) {
          a += probs[tt] * vcache[(c0 + tt) * kv_dim + ko + i];
        }
        acc[j] = a;
      }
    }
    workgroupBarrier(); // probs is rewritten by the next chunk
  }

  for (var j = 0u; j < NACC; j++) {
    let i = lid + j * WG;
    if (i < hs) {
      out[(m * p.n_heads + h) * hs + i] = acc[j] / run_sum;
    }
  }
}
