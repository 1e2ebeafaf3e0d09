// Output drift and the Pareto view → chart rows. Pure functions of the variants and their
// evaluations (perplexity, KL, top-1, per-layer SQNR of the residual stream).
import type { Async, DriftReport, VariantInfo } from '../../state/lab-types.ts';

type DriftMap = Record<string, Async<DriftReport>>;

const ready = (d: DriftMap, id: string): DriftReport | null => (d[id]?.status === 'ready' ? d[id].data : null);

/** SQNR cap for display: identical outputs (∞ dB) are drawn at the top of the axis. */
export const SQNR_CAP = 120;

/** One row per layer: { layer: 'L0', [variant id]: dB, … } for every evaluated quantized variant. */
export function sqnrRows(variants: readonly VariantInfo[], drift: DriftMap): Record<string, number | string>[] {
  const evaluated = variants.filter((v) => v.id !== 'base' && ready(drift, v.id));
  const nLayers = Math.max(0, ...evaluated.map((v) => ready(drift, v.id)!.sqnrDb.length));
  return Array.from({ length: nLayers }, (_, l) => {
    const row: Record<string, number | string> = { layer: `L${l}` };
    for (const v of evaluated) {
      const db = ready(drift, v.id)!.sqnrDb[l];
      row[v.id] = Number.isFinite(db) ? db : SQNR_CAP;
    }
    return row;
  });
}

export interface DriftSummaryRow {
  id: string;
  label: string;
  bits: number; // bits per linear weight as stored
  ppl: number | null;
  klMean: number | null;
  top1Pct: number | null;
  minSqnr: number | null; // the worst layer
}

export function driftSummary(variants: readonly VariantInfo[], drift: DriftMap): DriftSummaryRow[] {
  return variants.map((v) => {
    const d = ready(drift, v.id);
    const finite = d?.sqnrDb.filter(Number.isFinite) ?? [];
    return {
      id: v.id,
      label: v.label,
      bits: v.bitsPerWeight,
      ppl: d?.ppl ?? null,
      klMean: d?.klMean ?? null,
      top1Pct: d?.top1 == null ? null : d.top1 * 100,
      minSqnr: finite.length ? Math.min(...finite) : null,
    };
  });
}

export interface ParetoPoint {
  id: string;
  label: string;
  bits: number;
  ppl: number;
  frontier: boolean; // no other point has fewer (or equal) bits and lower perplexity
}

/** Perplexity vs bits per weight for every evaluated variant, with the Pareto frontier marked. */
export function paretoPoints(variants: readonly VariantInfo[], drift: DriftMap): ParetoPoint[] {
  const pts = variants.flatMap((v) => {
    const d = ready(drift, v.id);
    return d ? [{ id: v.id, label: v.label, bits: v.bitsPerWeight, ppl: d.ppl, frontier: false }] : [];
  });
  for (const p of pts)
    p.frontier = !pts.some((q) => q !== p && q.bits <= p.bits && q.ppl <= p.ppl && (q.bits < p.bits || q.ppl < p.ppl));
  return pts.sort((a, b) => a.bits - b.bits);
}

export function driftExport(variants: readonly VariantInfo[], drift: DriftMap) {
  return {
    chart: 'output-drift',
    variants: variants.flatMap((v) => {
      const d = ready(drift, v.id);
      return d
        ? [
            {
              id: v.id,
              label: v.label,
              bitsPerWeight: v.bitsPerWeight,
              weightBytes: v.weightBytes,
              ppl: d.ppl,
              klMean: d.klMean,
              klP99: d.klP99,
              top1: d.top1,
              sqnrDb: d.sqnrDb.map((x) => (Number.isFinite(x) ? x : null)),
              windows: d.windows,
              tokens: d.tokens,
            },
          ]
        : [];
    }),
    pareto: paretoPoints(variants, drift),
  };
}
