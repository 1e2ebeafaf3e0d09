// LLM.int8() (Dettmers et al. 2022) and W8A8 CPU twins: vector-wise absmax int8 with an fp32
// path for outlier input features. Weights are always int8 (per output channel absmax); the
// activations of outlier columns (any |x| ≥ threshold in the batch) stay fp32 and multiply the
// dequantized int8 weights of those columns, as bitsandbytes does. threshold = Infinity gives
// plain W8A8 (SmoothQuant's second half).
import { roundHalfEven } from './rounding.ts';
import type { Int8RowsTensor } from '../tensor.ts';

export interface Int8Rows {
  q: Int8Array; // (N, K) codes in [−127, 127]
  scale: Float32Array; // (N) w ≈ q · scale, scale = absmax / 127
}

/** Per-row absmax int8: s = 127 / max|x|, q = round(x · s). A zero row gets scale 0. */
export function quantizeRowsInt8(w: Float32Array, N: number, K: number): Int8Rows {
  const q = new Int8Array(N * K);
  const scale = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(w[n * K + k]));
    scale[n] = amax / 127;
    if (amax === 0) continue;
    const s = 127 / amax;
    for (let k = 0; k < K; k++) q[n * K + k] = roundHalfEven(w[n * K + k] * s);
  }
  return { q, scale };
}

/** Input columns of x (M, K) where any |x| ≥ threshold: LLM.int8's outlier features. */
export function outlierColumns(x: Float32Array, M: number, K: number, threshold: number): Uint8Array {
  const mask = new Uint8Array(K);
  if (!Number.isFinite(threshold)) return mask;
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) if (Math.abs(x[m * K + k]) >= threshold) mask[k] = 1;
  return mask;
}

/**
 * out (M, N) ≈ x (M, K) · Wᵀ with W int8 per row. Regular columns: x quantized per token
 * (absmax over the non-outlier columns), int32 dot products, rescaled by sx·sw. Outlier
 * columns: fp32 x times dequantized weights. Returns the outlier mask used.
 */
export function matmulInt8Mixed(
  out: Float32Array,
  x: Float32Array,
  w: Int8Rows,
  M: number,
  K: number,
  N: number,
  threshold: number,
): Uint8Array {
  const outl = outlierColumns(x, M, K, threshold);
  const xq = new Int8Array(K);
  for (let m = 0; m < M; m++) {
    const xo = m * K;
    let amax = 0;
    for (let k = 0; k < K; k++) if (!outl[k]) amax = Math.max(amax, Math.abs(x[xo + k]));
    const sx = amax / 127;
    for (let k = 0; k < K; k++) xq[k] = outl[k] || amax === 0 ? 0 : roundHalfEven((x[xo + k] * 127) / amax);
    for (let n = 0; n < N; n++) {
      const wo = n * K;
      let acc = 0; // exact integer accumulation (|acc| < 2^31 for K < 133k)
      let accOut = 0;
      for (let k = 0; k < K; k++) {
        if (outl[k]) accOut += x[xo + k] * w.q[wo + k];
        else acc += xq[k] * w.q[wo + k];
      }
      out[m * N + n] = acc * sx * w.scale[n] + accOut * w.scale[n];
    }
  }
  return outl;
}

/**
 * LLM.int8 / W8A8 weight: per-row absmax int8, codes as two's-complement bytes packed 4 per u32
 * (rows padded to whole words, byte j of a row at word j >> 2, bits 8·(j & 3) — the layout
 * WGSL's dot4I8Packed reads). threshold: outlier feature threshold; Infinity = plain W8A8
 * (SmoothQuant), serialized as null.
 */
export function packInt8Rows(w: Int8Rows, N: number, K: number, threshold: number): Int8RowsTensor {
  const wpr = Math.ceil(K / 4);
  const data = new Uint32Array(N * wpr);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) data[n * wpr + (k >> 2)] |= (w.q[n * K + k] & 0xff) << (8 * (k & 3));
  }
  return { format: 'llmint8', shape: [N, K], threshold, buffers: { data, scales: w.scale.slice() } };
}

export function unpackInt8Rows(t: Int8RowsTensor): Int8Rows {
  const [N, K] = t.shape;
  const wpr = Math.ceil(K / 4);
  const q = new Int8Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) q[n * K + k] = ((t.buffers.data[n * wpr + (k >> 2)] >>> (8 * (k & 3))) << 24) >> 24;
  }
  return { q, scale: t.buffers.scales };
}
