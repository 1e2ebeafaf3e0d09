// Bucket collisions → chart rows and the comparison table. Pure functions of the worker's counts.
import type { CollisionReport, CollisionStats } from '../../state/lab-types.ts';

export interface CodeRow {
  code: number;
  count: number;
  share: number; // count / total
  empty: boolean;
}

/** One bar per code of one quantizer. */
export function codeRows(s: CollisionStats): CodeRow[] {
  return s.counts.map((count, code) => ({ code, count, share: s.total ? count / s.total : 0, empty: count === 0 }));
}

export interface ComparisonRow {
  label: string; // "int4 g32"
  bits: number;
  unusedPct: number; // codes no weight uses, % of 2^bits
  largestPct: number; // weights in the fullest code, %
  clippedPct: number; // weights clamped at the ends, %
  perCode: number; // mean weights per used code
}

const pct = (x: number) => Math.round(x * 10000) / 100;

/** The across-quantizers comparison, in the order the worker computed them (bits, then granularity). */
export function comparisonRows(r: CollisionReport): ComparisonRow[] {
  return r.rows.map((s) => {
    const used = s.counts.filter((c) => c > 0).length;
    return {
      label: s.label,
      bits: s.bits,
      unusedPct: pct(s.unusedShare),
      largestPct: pct(s.largest.share),
      clippedPct: pct(s.clippedShare),
      perCode: used ? s.total / used : 0,
    };
  });
}

/** The quantizer the bar chart shows: the one with `label`, else the first. */
export const pickStats = (r: CollisionReport, label: string | null): CollisionStats | undefined =>
  r.rows.find((s) => s.label === label) ?? r.rows[0];

export function collisionsExport(r: CollisionReport) {
  return {
    chart: 'bucket-collisions',
    tensor: `layers.${r.layer}.${r.linear}`,
    shape: r.shape,
    sym: r.sym,
    computedOn: r.backend,
    quantizers: r.rows.map((s) => ({
      label: s.label,
      bits: s.bits,
      granularity: s.granularity,
      group: s.group,
      counts: s.counts,
      total: s.total,
      unusedShare: s.unusedShare,
      largest: s.largest,
      clippedLow: s.clippedLow,
      clippedHigh: s.clippedHigh,
      clippedShare: s.clippedShare,
    })),
  };
}
