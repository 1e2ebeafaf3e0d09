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

/** Index of the first NaN/±Inf in x[from, from + n), or -1. */
function firstNonFinite(x: Float32Array, from = 0, n = x.length - from): number {
  for (let i = from; i < from + n; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/**
 * Why logits came out non-finite: reruns `ids` with the residual stream and names the first
 * block whose output holds NaN/±Inf (the runner's embedding when even the input is bad).
 * Returns the NibbleError('non-finite') to throw.
 */
export async function nonFiniteError(runner: ModelRunner, ids: readonly number[], where: string): Promise<NibbleError> {
  let layer = 'the final norm or classifier';
  try {
    const { residuals } = await runner.logitsAll(ids.slice(0, runner.config.seqLen), { residuals: true });
    const l = residuals?.findIndex((x) => firstNonFinite(x) >= 0) ?? -1;
    if (l >= 0) layer = `block ${l} (layer ${l} of ${runner.config.nLayers})`;
  } catch {
    layer = 'a layer the runner could not report';
  }
  return new NibbleError(
    'non-finite',
    `the model's values stop being finite numbers in ${layer}: its logits ${where} are NaN or Infinity (corrupt weights or an overflow)`,
  );
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
    // A NaN/Inf logit would make perplexity NaN while KL (max(0, NaN)) and top-1 looked perfect.
    if (firstNonFinite(q.logits, 0, (M - 1) * V) >= 0)
      throw await nonFiniteError(target, ids, `in evaluation window ${w + 1}`);
    if (r && firstNonFinite(r.logits, 0, (M - 1) * V) >= 0)
      throw await nonFiniteError(reference!, ids, `of the reference model in evaluation window ${w + 1}`);
    // Position t predicts token t + 1: positions 0..M−2 are scored.
    for (let t = 0; t < M - 1; t++) {
      const lq = logSoftmax(q.logits, t * V, V);
      if (!Number.isFinite(lq[ids[t + 1]]))
        throw new NibbleError(
          'non-finite',
          `perplexity is infinite: the model gives token ${ids[t + 1]} probability 0 at position ${t + 1} of evaluation window ${w + 1} (its logits span more than floating point can exponentiate)`,
        );
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
  if (!Number.isFinite(Math.exp(nll / scored)))
    throw new NibbleError(
      'non-finite',
      `perplexity overflows (mean negative log-likelihood ${(nll / scored).toPrecision(3)}): the model's logits are far outside any trained range`,
    );
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
