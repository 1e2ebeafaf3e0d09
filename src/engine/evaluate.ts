// The evaluator: perplexity by the one protocol (evaluation.md) and drift against a reference
// runner (fp32) on the same windows: KL mean / p99, top-1 agreement, per-layer SQNR of the
// residual stream. Works with any ModelRunner (GPU or CPU).
import { NibbleError } from '../core/errors.ts';
import { argmaxRow, klDivergence, logSoftmax, percentile } from '../core/model/metrics.ts';
import type { ModelRunner } from './runner.ts';

export interface EvalReport {
  ppl: number;
  tokens: number; // scored positions (windows × (seq − 1))
  windows: number;
  klMean: number | null; // null without a reference
  klP99: number | null;
  top1Agreement: number | null;
  layers: { sqnrDb: number }[]; // residual stream after each block vs the reference
  seconds: number;
}

export interface EvalProgress {
  window: number;
  windows: number;
  pplSoFar: number;
}

export async function evaluate(
  target: ModelRunner,
  windows: readonly number[][],
  reference: ModelRunner | null,
  onProgress?: (p: EvalProgress) => void,
  signal?: AbortSignal,
): Promise<EvalReport> {
  if (windows.length === 0)
    throw new NibbleError('bad-argument', 'the evaluation text is shorter than one window: nothing to score');
  const V = target.config.vocabSize;
  const t0 = globalThis.performance.now();
  let nll = 0;
  let scored = 0;
  const kls: number[] = [];
  let agree = 0;
  const nLayers = target.config.nLayers;
  const sig = new Float64Array(nLayers);
  const err = new Float64Array(nLayers);

  for (let w = 0; w < windows.length; w++) {
    if (signal?.aborted) throw new NibbleError('cancelled', 'evaluation cancelled');
    const ids = windows[w];
    const M = ids.length;
    if (M > target.config.seqLen)
      throw new NibbleError(
        'bad-argument',
        `window of ${M} tokens exceeds the model's context of ${target.config.seqLen}`,
      );
    const q = await target.logitsAll(ids, { residuals: reference !== null });
    const r = reference ? await reference.logitsAll(ids, { residuals: true }) : null;
    // Position t predicts token t + 1: positions 0..M−2 are scored.
    for (let t = 0; t < M - 1; t++) {
      const lq = logSoftmax(q.logits, t * V, V);
      nll -= lq[ids[t + 1]];
      scored++;
      if (r) {
        const lp = logSoftmax(r.logits, t * V, V);
        kls.push(klDivergence(lp, lq));
        if (argmaxRow(q.logits, t * V, V) === argmaxRow(r.logits, t * V, V)) agree++;
      }
    }
    if (r?.residuals && q.residuals) {
      for (let l = 0; l < nLayers; l++) {
        const x = r.residuals[l];
        const xh = q.residuals[l];
        for (let i = 0; i < x.length; i++) {
          sig[l] += x[i] * x[i];
          err[l] += (x[i] - xh[i]) ** 2;
        }
      }
    }
    onProgress?.({ window: w + 1, windows: windows.length, pplSoFar: Math.exp(nll / scored) });
  }
  const klMean = reference ? kls.reduce((a, b) => a + b, 0) / kls.length : null;
  return {
    ppl: Math.exp(nll / scored),
    tokens: scored,
    windows: windows.length,
    klMean,
    klP99: reference ? percentile(kls, 99) : null,
    top1Agreement: reference ? agree / scored : null,
    layers: reference
      ? Array.from({ length: nLayers }, (_, l) => ({
          sqnrDb: err[l] === 0 ? Infinity : 10 * Math.log10(sig[l] / err[l]),
        }))
      : [],
    seconds: (globalThis.performance.now() - t0) / 1000,
  };
}
