// The charts' data shaping: worker results (bins, code counts, per-feature maxima, drift) →
// the rows recharts draws and the JSON the export writes. Pure functions, checked by hand.
import { describe, expect, it } from 'vitest';
import type {
  Async,
  CollisionReport,
  DriftReport,
  OutlierReport,
  TruncationPoint,
  VariantInfo,
  WeightHistogram,
} from '../../src/state/lab-types.ts';
import { codeRows, collisionsExport, comparisonRows, pickStats } from '../../src/ui/charts/collisions-data.ts';
import { driftExport, driftSummary, paretoPoints, sqnrRows, SQNR_CAP } from '../../src/ui/charts/drift-data.ts';
import { toJson, wrapWords } from '../../src/ui/charts/export.ts';
import {
  evenTicks,
  fromLogCount,
  histogramExport,
  histogramRows,
  toLogCount,
  visibleGrid,
} from '../../src/ui/charts/histogram-data.ts';
import { outliersExport, overCounts, recurringOutliers, stripPoints } from '../../src/ui/charts/outliers-data.ts';
import { kneeOf, storageBits, truncationExport, truncationRows } from '../../src/ui/truncation/lm-data.ts';
import { DEFAULT_SPEC } from '../../src/worker/engine-host/lab-protocol.ts';

const hist: WeightHistogram = {
  layer: 0,
  linear: 'wq',
  shape: [2, 4],
  min: -1,
  max: 1,
  edges: [-1, -0.5, 0, 0.5, 1],
  counts: [1, 3, 0, 4],
  groupCounts: [0, 1, 0, 3],
  row: 1,
  group: 0,
  nGroups: 1,
  groupSize: 4,
  grid: [-1.5, -1, 0, 1, 1.5],
  gridLabel: 'int2',
  mean: 0.1,
  std: 0.5,
};

describe('weight histogram rows', () => {
  it('one step row per bin plus a closing row; log counts map back', () => {
    expect(histogramRows(hist, false)).toEqual([
      { x: -1, count: 1, group: 0 },
      { x: -0.5, count: 3, group: 1 },
      { x: 0, count: 0, group: 0 },
      { x: 0.5, count: 4, group: 3 },
      { x: 1, count: 4, group: 3 },
    ]);
    const log = histogramRows(hist, true);
    expect(log[2].count).toBe(0); // an empty bin stays at the baseline
    expect(log.map((r) => fromLogCount(r.count))).toEqual([1, 3, 0, 4, 4]);
    expect(toLogCount(999)).toBeCloseTo(3, 12);
  });

  it('draws only the grid levels inside the weights’ range, and exports what it shows', () => {
    expect(visibleGrid(hist)).toEqual([-1, 0, 1]);
    expect(visibleGrid({ ...hist, grid: null })).toEqual([]);
    expect(evenTicks(-1, 1, 5)).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(histogramExport(hist, 'rtn int2 per-row')).toMatchObject({
      tensor: 'layers.0.wq',
      quantizer: 'rtn int2 per-row',
      counts: [1, 3, 0, 4],
      selectedGroup: { row: 1, group: 0, counts: [0, 1, 0, 3] },
    });
  });
});

const collisions: CollisionReport = {
  layer: 1,
  linear: 'w2',
  shape: [4, 2],
  sym: false,
  backend: 'webgpu',
  ms: 3,
  rows: [
    {
      bits: 2,
      granularity: 'row',
      group: 2,
      label: 'int2 per-row',
      counts: [0, 6, 2, 0],
      total: 8,
      unusedShare: 0.5,
      largest: { code: 1, count: 6, share: 0.75 },
      clippedLow: 0,
      clippedHigh: 1,
      clippedShare: 0.125,
    },
    {
      bits: 2,
      granularity: 'tensor',
      group: 2,
      label: 'int2 per-tensor',
      counts: [2, 2, 2, 2],
      total: 8,
      unusedShare: 0,
      largest: { code: 0, count: 2, share: 0.25 },
      clippedLow: 0,
      clippedHigh: 0,
      clippedShare: 0,
    },
  ],
};

describe('bucket collision rows', () => {
  it('bars per code with their share; the comparison table in percent', () => {
    expect(codeRows(collisions.rows[0])).toEqual([
      { code: 0, count: 0, share: 0, empty: true },
      { code: 1, count: 6, share: 0.75, empty: false },
      { code: 2, count: 2, share: 0.25, empty: false },
      { code: 3, count: 0, share: 0, empty: true },
    ]);
    expect(comparisonRows(collisions)).toEqual([
      { label: 'int2 per-row', bits: 2, unusedPct: 50, largestPct: 75, clippedPct: 12.5, perCode: 4 },
      { label: 'int2 per-tensor', bits: 2, unusedPct: 0, largestPct: 25, clippedPct: 0, perCode: 2 },
    ]);
    expect(pickStats(collisions, 'int2 per-tensor')?.label).toBe('int2 per-tensor');
    expect(pickStats(collisions, 'int8 g32')?.label).toBe('int2 per-row'); // unknown → the first
    expect(collisionsExport(collisions)).toMatchObject({
      tensor: 'layers.1.w2',
      computedOn: 'webgpu',
      quantizers: [{ label: 'int2 per-row', counts: [0, 6, 2, 0] }, {}],
    });
  });
});

const outliers = {
  threshold: 6,
  windows: 2,
  tokens: 512,
  sites: {
    attn: {
      width: 3,
      layers: [
        { absMax: [1, 7, 2], over: [1] },
        { absMax: [6, 9, 0.5], over: [0, 1] },
      ],
    },
    wo: { width: 0, layers: [] },
    ffn: { width: 0, layers: [] },
    w2: { width: 0, layers: [] },
  },
} as OutlierReport;

describe('outlier feature rows', () => {
  it('applies the threshold in the page, so moving it needs no new capture', () => {
    expect(stripPoints(outliers, 'attn', 1, 6)).toEqual([
      { feature: 0, absMax: 6, over: true },
      { feature: 1, absMax: 9, over: true },
      { feature: 2, absMax: 0.5, over: false },
    ]);
    expect(overCounts(outliers, 'attn', 6)).toEqual([
      { layer: 'L0', over: 1, max: 7, top: 1 },
      { layer: 'L1', over: 2, max: 9, top: 1 },
    ]);
    expect(overCounts(outliers, 'attn', 8).map((c) => c.over)).toEqual([0, 1]);
    expect(recurringOutliers(outliers, 'attn', 6)).toEqual([{ feature: 1, layers: 2 }]);
    expect(outliersExport(outliers, 'attn', 6).layers[1].over).toEqual([0, 1]);
  });
});

const variant = (id: string, bits: number, label = id): VariantInfo => ({
  id,
  label,
  spec: DEFAULT_SPEC,
  baseModel: 'm',
  origin: id === 'base' ? 'loaded' : 'quantized',
  weightBytes: 100,
  linearBytes: 80,
  bitsPerWeight: bits,
  nominalBits: bits,
  seconds: 0,
  report: null,
});
const ready = (d: Partial<DriftReport>): Async<DriftReport> => ({
  status: 'ready',
  error: null,
  data: {
    variant: 'x',
    ppl: 1,
    tokens: 10,
    windows: 1,
    klMean: 0,
    klP99: 0,
    top1: 1,
    sqnrDb: [],
    seconds: 0,
    backend: 'cpu',
    ...d,
  },
});

describe('drift and Pareto rows', () => {
  const variants = [
    variant('base', 32, 'fp32'),
    variant('v1', 4.5, 'int4'),
    variant('v2', 8.5, 'int8'),
    variant('v3', 3.5, 'int3'),
    variant('v4', 5),
  ];
  const drift: Record<string, Async<DriftReport>> = {
    base: ready({ ppl: 5, klMean: null, top1: null }),
    v1: ready({ ppl: 6, sqnrDb: [20, 15] }),
    v2: ready({ ppl: 5.1, sqnrDb: [40, Infinity] }),
    v3: ready({ ppl: 9, sqnrDb: [12, 8], top1: 0.5 }),
    v4: { status: 'loading', data: null, error: null },
  };

  it('one SQNR row per layer with a column per evaluated quantized variant (∞ drawn at the cap)', () => {
    expect(sqnrRows(variants, drift)).toEqual([
      { layer: 'L0', v1: 20, v2: 40, v3: 12 },
      { layer: 'L1', v1: 15, v2: SQNR_CAP, v3: 8 },
    ]);
  });

  it('marks the Pareto frontier: no other variant has fewer bits and lower perplexity', () => {
    const pts = paretoPoints(variants, drift);
    expect(pts.map((p) => [p.id, p.frontier])).toEqual([
      ['v3', true],
      ['v1', true],
      ['v2', true],
      ['base', true],
    ]);
    const worse = paretoPoints(variants, { ...drift, v2: ready({ ppl: 7 }) });
    expect(worse.find((p) => p.id === 'v2')?.frontier).toBe(false); // v1 has fewer bits and lower ppl
  });

  it('summarizes KL, top-1 and the worst layer; the export has no ∞', () => {
    const rows = driftSummary(variants, drift);
    expect(rows.find((r) => r.id === 'v3')).toMatchObject({ ppl: 9, top1Pct: 50, minSqnr: 8 });
    expect(rows.find((r) => r.id === 'v2')?.minSqnr).toBe(40);
    expect(rows.find((r) => r.id === 'v4')).toMatchObject({ ppl: null, klMean: null, top1Pct: null });
    const json = JSON.parse(toJson(driftExport(variants, drift)));
    expect(json.variants.find((v: { id: string }) => v.id === 'v2').sqnrDb).toEqual([40, null]);
    expect(toJson({ a: Infinity, b: NaN, c: 1 })).toBe('{\n  "a": null,\n  "b": null,\n  "c": 1\n}');
  });

  it('wraps the PNG caption into lines that fit the chart width', () => {
    expect(wrapWords('one two three four five', 9, (s) => s.length)).toEqual(['one two', 'three', 'four five']);
    expect(wrapWords('averyveryverylongword x', 5, (s) => s.length)).toEqual(['averyveryverylongword', 'x']);
  });
});

describe('truncation lab rows', () => {
  const point = (k: number, mode: 'truncate' | 'rne', ppl: number, top1: number): TruncationPoint => ({
    k,
    mode,
    ppl,
    top1,
    klMean: 0,
    sample: '',
    windows: 2,
    tokens: 510,
    seconds: 1,
    backend: 'cpu',
  });
  const points = Object.fromEntries(
    [
      point(23, 'truncate', 5, 1),
      point(8, 'truncate', 5.01, 0.995),
      point(3, 'truncate', 6, 0.9),
      point(3, 'rne', 5.2, 0.97),
    ].map((p) => [`${p.mode}:${p.k}`, p]),
  );

  it('24 rows with both modes filled where computed', () => {
    const rows = truncationRows(points);
    expect(rows).toHaveLength(24);
    expect(rows[3]).toEqual({ k: 3, pplTrunc: 6, pplRne: 5.2, top1Trunc: 90, top1Rne: 97 });
    expect(rows[4]).toEqual({ k: 4, pplTrunc: null, pplRne: null, top1Trunc: null, top1Rne: null });
  });

  it('finds the knee (smallest k keeping ≥ 99 % top-1 from there up) and exports sorted points', () => {
    expect(kneeOf(points, 'truncate')).toBe(8);
    expect(kneeOf(points, 'rne')).toBeNull();
    expect(storageBits(7)).toBe(16);
    expect(truncationExport(points, 2).points.map((p) => `${p.mode}:${p.k}`)).toEqual([
      'rne:3',
      'truncate:3',
      'truncate:8',
      'truncate:23',
    ]);
  });
});
