// Outlier features → strip-chart points and per-layer counts over the LLM.int8 threshold. The
// threshold is applied here, so moving it needs no new capture.
import type { LinearInputSite, OutlierReport } from '../../state/lab-types.ts';

export interface StripPoint {
  feature: number; // input feature index
  absMax: number; // max |x| over the calibration windows
  over: boolean;
}

/** Points of one layer of one site. */
export function stripPoints(r: OutlierReport, site: LinearInputSite, layer: number, threshold: number): StripPoint[] {
  return (r.sites[site].layers[layer]?.absMax ?? []).map((absMax, feature) => ({
    feature,
    absMax,
    over: absMax >= threshold,
  }));
}

export interface LayerCount {
  layer: string; // "L0"
  over: number; // features with absmax ≥ threshold
  max: number; // the largest absmax in the layer
  top: number; // its feature index
}

export function overCounts(r: OutlierReport, site: LinearInputSite, threshold: number): LayerCount[] {
  return r.sites[site].layers.map((l, i) => {
    let top = 0;
    l.absMax.forEach((v, j) => v > l.absMax[top] && (top = j));
    return { layer: `L${i}`, over: l.absMax.filter((v) => v >= threshold).length, max: l.absMax[top] ?? 0, top };
  });
}

/** Features over the threshold in several layers: the systematic outlier dimensions. */
export function recurringOutliers(
  r: OutlierReport,
  site: LinearInputSite,
  threshold: number,
): { feature: number; layers: number }[] {
  const hits = new Map<number, number>();
  for (const l of r.sites[site].layers)
    l.absMax.forEach((v, j) => v >= threshold && hits.set(j, (hits.get(j) ?? 0) + 1));
  return [...hits]
    .map(([feature, layers]) => ({ feature, layers }))
    .filter((x) => x.layers > 1)
    .sort((a, b) => b.layers - a.layers || a.feature - b.feature);
}

export function outliersExport(r: OutlierReport, site: LinearInputSite, threshold: number) {
  return {
    chart: 'outlier-features',
    site,
    threshold,
    windows: r.windows,
    tokens: r.tokens,
    layers: r.sites[site].layers.map((l, i) => ({
      layer: i,
      absMax: l.absMax,
      over: l.absMax.flatMap((v, j) => (v >= threshold ? [j] : [])),
    })),
  };
}
