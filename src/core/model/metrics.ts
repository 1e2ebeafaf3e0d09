// The evaluation protocol (evaluation.md) and drift metrics, as pure functions.
import { NibbleError } from '../errors.ts';
import type { TextTokenizer } from '../tokenizers/text-tokenizer.ts';

/**
 * Perplexity windows: each non-empty line encoded with BOS (and the dummy-prefix space), all
 * lines concatenated, cut into non-overlapping windows of `seq` tokens; the remainder dropped.
 */
export function textWindows(tok: TextTokenizer, text: string, seq: number): number[][] {
  if (!Number.isInteger(seq) || seq < 2)
    throw new NibbleError('bad-argument', `window length must be a whole number ≥ 2, got ${seq}`);
  const stream: number[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim().length === 0) continue;
    for (const id of tok.encode(line, { bos: true, eos: false })) stream.push(id);
  }
  const windows: number[][] = [];
  for (let s = 0; s + seq <= stream.length; s += seq) windows.push(stream.slice(s, s + seq));
  return windows;
}

/** log-softmax of one row of logits, in float64. */
export function logSoftmax(logits: Float32Array, offset: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[offset + i] - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[offset + i] - lse;
  return out;
}

/** KL(p ‖ q) = Σ p (log p − log q) from two log-probability rows. */
export function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const p = Math.exp(logP[i]);
    if (p > 0) kl += p * (logP[i] - logQ[i]);
  }
  return Math.max(0, kl);
}

/** SQNR in dB: 20·log10(‖x‖ / ‖x − x̂‖); Infinity when identical. */
export function sqnrDb(x: ArrayLike<number>, xhat: ArrayLike<number>): number {
  let sig = 0;
  let err = 0;
  for (let i = 0; i < x.length; i++) {
    sig += x[i] * x[i];
    const d = x[i] - xhat[i];
    err += d * d;
  }
  return err === 0 ? Infinity : 10 * Math.log10(sig / err);
}

/** p-th percentile (0..100) by linear interpolation between order statistics. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return NaN;
  const r = (p / 100) * (s.length - 1);
  const lo = Math.floor(r);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (r - lo);
}

export const argmaxRow = (x: Float32Array, offset: number, n: number): number => {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[offset + i] > x[offset + best]) best = i;
  return best;
};
