// Truncation lab (language model) → chart rows: perplexity and top-1 agreement per fraction
// bit count for both rounding modes, filled in where computed (null elsewhere).
import type { TruncationPoint } from '../../state/lab-types.ts';

export interface TruncRow {
  k: number;
  pplTrunc: number | null;
  pplRne: number | null;
  top1Trunc: number | null; // %
  top1Rne: number | null;
}

/** 24 rows (k = 0..23); a field is null until its point is computed. */
export function truncationRows(points: Record<string, TruncationPoint>): TruncRow[] {
  return Array.from({ length: 24 }, (_, k) => {
    const t = points[`truncate:${k}`];
    const r = points[`rne:${k}`];
    return {
      k,
      pplTrunc: t?.ppl ?? null,
      pplRne: r?.ppl ?? null,
      top1Trunc: t ? t.top1 * 100 : null,
      top1Rne: r ? r.top1 * 100 : null,
    };
  });
}

/** Smallest k from which every computed point of `mode` keeps top-1 agreement ≥ `level` (the "knee"). */
export function kneeOf(points: Record<string, TruncationPoint>, mode: 'truncate' | 'rne', level = 0.99): number | null {
  const pts = Object.values(points)
    .filter((p) => p.mode === mode)
    .sort((a, b) => a.k - b.k);
  if (!pts.length) return null;
  let knee: number | null = null;
  for (let i = pts.length - 1; i >= 0 && pts[i].top1 >= level; i--) knee = pts[i].k;
  return knee;
}

/** Bits of one weight with k fraction bits: sign + 8 exponent + k. */
export const storageBits = (k: number): number => 9 + k;

export function truncationExport(points: Record<string, TruncationPoint>, windows: number) {
  return {
    chart: 'lm-truncation',
    reference: 'fp32 model, same windows',
    evalWindows: windows,
    points: Object.values(points)
      .sort((a, b) => (a.mode === b.mode ? a.k - b.k : a.mode < b.mode ? -1 : 1))
      .map((p) => ({
        k: p.k,
        mode: p.mode,
        bits: storageBits(p.k),
        ppl: p.ppl,
        top1: p.top1,
        klMean: p.klMean,
        sample: p.sample,
        backend: p.backend,
      })),
  };
}
