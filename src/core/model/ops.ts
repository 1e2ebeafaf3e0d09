// Reference math: the readable CPU twin of every WGSL kernel in shaders/. GPU tests compare
// against these; the CPU forward pass is built from them. Row-major throughout; M = rows
// (tokens) processed at once, so M = 1 is a decode step and M > 1 a prefill.

/** out (M, N) = x (M, K) · wᵀ, with w (N, K) stored [out, in] as in llama2.c. */
export function matmul(out: Float32Array, x: Float32Array, w: Float32Array, M: number, K: number, N: number): void {
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[xo + k] * w[wo + k];
      out[m * N + n] = acc;
    }
  }
}

/** out (M, dim) = weight ⊙ x / sqrt(mean(x²) + eps), per row. */
export function rmsnorm(
  out: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  M: number,
  dim: number,
  eps: number,
): void {
  for (let m = 0; m < M; m++) {
    const o = m * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[o + i] * x[o + i];
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[o + i] = weight[i] * (inv * x[o + i]);
  }
}

/**
 * Rotary position embedding in place on x (M, nH * hs); row m is at position pos0 + m.
 * interleaved (llama2.c): pairs (2i, 2i+1); half (HF): pairs (i, i + hs/2). Pair i within a
 * head turns by angle pos · theta^(-2i/hs), or pos · invFreq[i] when a table (hs/2) is given
 * (scaled RoPE: model/rope.ts ropeInvFreq; its unscaled table equals theta^(-2i/hs) exactly).
 */
export function rope(
  x: Float32Array,
  M: number,
  nH: number,
  hs: number,
  pos0: number,
  theta: number,
  style: 'interleaved' | 'half',
  invFreq?: ArrayLike<number>,
): void {
  const half = hs / 2;
  for (let m = 0; m < M; m++) {
    const pos = pos0 + m;
    for (let h = 0; h < nH; h++) {
      const base = (m * nH + h) * hs;
      for (let i = 0; i < half; i++) {
        const freq = invFreq ? invFreq[i] : 1 / Math.pow(theta, (2 * i) / hs);
        const a = pos * freq;
        const c = Math.cos(a);
        const s = Math.sin(a);
        const i0 = style === 'interleaved' ? base + 2 * i : base + i;
        const i1 = style === 'interleaved' ? i0 + 1 : i0 + half;
        const v0 = x[i0];
        const v1 = x[i1];
        x[i0] = v0 * c - v1 * s;
        x[i1] = v0 * s + v1 * c;
      }
    }
  }
}

/**
 * Causal grouped-query attention over one layer's KV cache.
 * q (M, nH*hs) for positions pos0..pos0+M-1; kCache, vCache (seqLen, nKv*hs) already hold
 * positions 0..pos0+M-1. out (M, nH*hs). Head h reads kv head h / (nH / nKv).
 */
export function attention(
  out: Float32Array,
  q: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  M: number,
  pos0: number,
  nH: number,
  nKv: number,
  hs: number,
): void {
  const kvd = nKv * hs;
  const group = nH / nKv;
  const scale = 1 / Math.sqrt(hs);
  const scores = new Float64Array(pos0 + M);
  for (let m = 0; m < M; m++) {
    const len = pos0 + m + 1; // causal: positions 0..pos0+m
    for (let h = 0; h < nH; h++) {
      const qo = (m * nH + h) * hs;
      const ko = Math.floor(h / group) * hs;
      let max = -Infinity;
      for (let t = 0; t < len; t++) {
        let s = 0;
        for (let i = 0; i < hs; i++) s += q[qo + i] * kCache[t * kvd + ko + i];
        s *= scale;
        scores[t] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let t = 0; t < len; t++) {
        scores[t] = Math.exp(scores[t] - max);
        sum += scores[t];
      }
      for (let i = 0; i < hs; i++) {
        let acc = 0;
        for (let t = 0; t < len; t++) acc += scores[t] * vCache[t * kvd + ko + i];
        out[qo + i] = acc / sum;
      }
    }
  }
}

/** out = silu(gate) ⊙ up, elementwise over n values; silu(x) = x / (1 + e^-x). */
export function siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

/** x += y over n values (the residual stream). */
export function addInPlace(x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) x[i] += y[i];
}

/** Index of the largest value; ties go to the lowest index (as llama2.c's argmax). */
export function argmax(x: Float32Array, offset = 0, n = x.length - offset): number {
  let best = 0;
  let bv = x[offset];
  for (let i = 1; i < n; i++) {
    if (x[offset + i] > bv) {
      bv = x[offset + i];
      best = i;
    }
  }
  return best;
}

/** out (M, dim) = rows of table (vocab, dim) picked by tokens (M). */
export function embed(out: Float32Array, table: Float32Array, tokens: ArrayLike<number>, dim: number): void {
  for (let m = 0; m < tokens.length; m++) out.set(table.subarray(tokens[m] * dim, (tokens[m] + 1) * dim), m * dim);
}

/**
 * Rows row0 .. row0 + rows - 1 of a (vocab, dim) table as `part` (rows, dim): out row m =
 * part row tokens[m] − row0 for the tokens in that range; other rows of out are left as they
 * are (embed_f32 on one row part of a split table).
 */
export function embedRows(
  out: Float32Array,
  part: Float32Array,
  tokens: ArrayLike<number>,
  dim: number,
  row0: number,
  rows: number,
): void {
  for (let m = 0; m < tokens.length; m++) {
    const r = tokens[m] - row0;
    if (r >= 0 && r < rows) out.set(part.subarray(r * dim, (r + 1) * dim), m * dim);
  }
}

/** x (M, n) += bias (n) on every row (the attention biases of Qwen2; rope_f32 with BIAS adds them). */
export function addRowBias(x: Float32Array, bias: Float32Array, M: number, n: number): void {
  for (let m = 0; m < M; m++) for (let i = 0; i < n; i++) x[m * n + i] += bias[i];
}
