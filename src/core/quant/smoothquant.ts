// SmoothQuant (Xiao et al. 2022): migrate activation outliers into the weights with a
// per-input-channel scale s, folded into the preceding RMSNorm weight (÷ s) and the following
// linears' columns (× s), so x·Wᵀ is unchanged in exact arithmetic.

/** s_j = max|X_j|^α / max|W_:,j|^(1−α), both maxima clamped at 1e-5; W_:,j over all given linears. */
export function smoothingScales(
  actAbsMax: Float32Array,
  weights: { data: Float32Array; rows: number }[],
  alpha: number,
): Float32Array {
  const K = actAbsMax.length;
  const wmax = new Float32Array(K);
  for (const w of weights) {
    for (let r = 0; r < w.rows; r++)
      for (let j = 0; j < K; j++) wmax[j] = Math.max(wmax[j], Math.abs(w.data[r * K + j]));
  }
  const s = new Float32Array(K);
  for (let j = 0; j < K; j++) s[j] = Math.max(actAbsMax[j], 1e-5) ** alpha / Math.max(wmax[j], 1e-5) ** (1 - alpha);
  return s;
}

/** Folds s into a norm weight (K) and linears (rows, K): norm /= s, W[:, j] *= s_j. Returns new arrays. */
export function foldSmoothing(
  norm: Float32Array,
  weights: { data: Float32Array; rows: number }[],
  s: Float32Array,
): { norm: Float32Array; weights: Float32Array[] } {
  const K = s.length;
  const n2 = norm.map((v, j) => v / s[j]);
  const w2 = weights.map((w) => {
    const d = w.data.slice();
    for (let r = 0; r < w.rows; r++) for (let j = 0; j < K; j++) d[r * K + j] *= s[j];
    return d;
  });
  return { norm: n2, weights: w2 };
}

/** Per-channel running max of |x| over calibration rows x (M, K). */
export function accumulateAbsMax(acc: Float32Array, x: Float32Array, M: number): void {
  const K = acc.length;
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) acc[k] = Math.max(acc[k], Math.abs(x[m * K + k]));
}
