// Weight histogram → chart rows. Pure: the worker's bins (never the weights) in, recharts rows out.
import type { WeightHistogram } from '../../state/lab-types.ts';

export interface HistogramRow {
  x: number; // bin's left edge (a step chart: the last row closes the last bin at max)
  count: number; // weights of the tensor in the bin (or log10(1 + count) on the log scale)
  group: number; // weights of the selected group in the bin (same scale)
}

/** log10(1 + n): zero stays at the baseline, ticks map back with `fromLogCount`. */
export const toLogCount = (n: number): number => Math.log10(1 + n);
export const fromLogCount = (v: number): number => Math.round(10 ** v - 1);

/** Rows of a step chart: one per bin at its left edge, plus a closing row at the right end. */
export function histogramRows(h: WeightHistogram, logCount: boolean): HistogramRow[] {
  const f = logCount ? toLogCount : (n: number) => n;
  const rows = h.counts.map((c, i) => ({ x: h.edges[i], count: f(c), group: f(h.groupCounts[i]) }));
  const last = rows[rows.length - 1];
  if (last) rows.push({ x: h.edges[h.edges.length - 1], count: last.count, group: last.group });
  return rows;
}

/** Grid levels inside the plotted range [min, max] (levels outside it cannot hold a weight). */
export function visibleGrid(h: WeightHistogram): number[] {
  if (!h.grid) return [];
  const pad = (h.max - h.min) * 1e-6;
  return h.grid.filter((v) => v >= h.min - pad && v <= h.max + pad);
}

/** Nice x ticks: `n` evenly spaced values across [min, max]. */
export function evenTicks(min: number, max: number, n = 7): number[] {
  if (!(max > min)) return [min];
  return Array.from({ length: n }, (_, i) => min + ((max - min) * i) / (n - 1));
}

/** The JSON export: what the chart shows, with its provenance. */
export function histogramExport(h: WeightHistogram, quantizer: string) {
  return {
    chart: 'weight-histogram',
    tensor: `layers.${h.layer}.${h.linear}`,
    shape: h.shape,
    quantizer,
    min: h.min,
    max: h.max,
    mean: h.mean,
    std: h.std,
    edges: h.edges,
    counts: h.counts,
    selectedGroup: {
      row: h.row,
      group: h.group,
      size: h.groupSize,
      counts: h.groupCounts,
      grid: h.grid,
      gridLabel: h.gridLabel,
    },
  };
}
