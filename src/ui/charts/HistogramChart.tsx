// Weight histogram of the chosen tensor: fp32 distribution (step area), the selected group's
// weights on top, and that group's quantization grid as vertical lines.
import { useEffect, useMemo } from 'react';
import {
  Area,
  CartesianGrid,
  ComposedChart,
  ReferenceLine,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { specLabel } from '../../state/lab-constants.ts';
import { useApp, useShallow } from '../../state/react.tsx';
import { Check } from '../common/Check.tsx';
import { NumberField } from '../common/NumberField.tsx';
import { ChartCard, ChartEmpty } from './ChartCard.tsx';
import { evenTicks, fromLogCount, histogramExport, histogramRows, visibleGrid } from './histogram-data.ts';
import { AXIS, C } from './palette.ts';

/** Both step areas: every weight of the tensor (left axis), the selected group's (right axis). */
const AREAS = [
  { dataKey: 'count', stroke: C.accent, fill: C.accentSoft, fillOpacity: 0.9 },
  { dataKey: 'group', stroke: C.group, fill: C.group, fillOpacity: 0.55 },
];
const BINS = { min: 8, max: 512, step: 8 };

const fmt = (v: number) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(3) : v.toExponential(1));

export function HistogramChart() {
  const h = useApp(useShallow((s) => s.charts.histogram));
  const tensor = useApp(useShallow((s) => s.charts.tensor));
  const form = useApp((s) => s.variants.form);
  const ready = useApp((s) => s.model.status === 'ready');
  const load = useApp((s) => s.loadHistogram);
  const setOpts = useApp((s) => s.setHistogramOptions);

  // Refetch when the tensor, the quantizer or the bins change (debounced: typing in a field).
  useEffect(() => {
    if (!ready) return;
    const t = setTimeout(() => void load(), 120);
    return () => clearTimeout(t);
  }, [ready, load, tensor.layer, tensor.linear, form, h.bins, h.row, h.group]);

  const d = h.data;
  const rows = useMemo(() => (d ? histogramRows(d, h.logCount) : []), [d, h.logCount]);
  const grid = useMemo(() => (d ? visibleGrid(d) : []), [d]);
  const codebook = form.method === 'nf4' || form.method === 'fp4';

  const controls = (
    <>
      {!codebook && (
        <NumberField
          label="Row"
          id="hist-row"
          value={h.row}
          min={0}
          max={(d?.shape[0] ?? 1) - 1}
          step={1}
          onCommit={(v) => setOpts({ row: v })}
        />
      )}
      <NumberField
        label={codebook ? 'Block' : 'Group'}
        id="hist-group"
        value={h.group}
        min={0}
        max={(d?.nGroups ?? 1) - 1}
        step={1}
        onCommit={(v) => setOpts({ group: v })}
      />
      <NumberField label="Bins" id="hist-bins" value={h.bins} {...BINS} onCommit={(v) => setOpts({ bins: v })} />
      <Check label="log count" testId="hist-log" checked={h.logCount} onChange={(logCount) => setOpts({ logCount })} />
    </>
  );

  return (
    <ChartCard
      title="Weight histogram"
      testId="histogram-chart"
      caption="Blue: how many fp32 weights of the tensor fall in each value range (left axis); orange: the selected group's weights (right axis). Red lines: the values the quantizer can output for that group — every weight collapses onto the nearest line."
      json={d ? histogramExport(d, specLabel(form)) : null}
      controls={controls}
      status={
        d && (
          <span data-testid="histogram-stats">
            layers.{d.layer}.{d.linear} · {d.shape[0]}×{d.shape[1]} · min {fmt(d.min)} · max {fmt(d.max)} · mean{' '}
            {fmt(d.mean)} · std {fmt(d.std)} · {codebook ? 'block' : `row ${d.row}, group`} {d.group} of {d.nGroups} (
            {d.groupSize} weights) · {d.gridLabel}
          </span>
        )
      }
    >
      {h.status === 'error' && <ChartEmpty>{h.error?.message}</ChartEmpty>}
      {h.status !== 'error' && !d && (
        <ChartEmpty>{ready ? 'Reading the tensor…' : 'Waiting for the model…'}</ChartEmpty>
      )}
      {h.status !== 'error' && d && (
        <div
          data-testid="histogram-plot"
          data-bins={d.counts.length}
          data-total={d.counts.reduce((a, b) => a + b, 0)}
          data-grid={grid.length}
        >
          <ResponsiveContainer width="100%" height={260}>
            <ComposedChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
              <CartesianGrid stroke={C.grid} vertical={false} />
              <XAxis
                dataKey="x"
                type="number"
                domain={[d.min, d.max]}
                ticks={evenTicks(d.min, d.max)}
                tickFormatter={fmt}
                {...AXIS}
              />
              <YAxis
                yAxisId="all"
                {...AXIS}
                width={48}
                tickFormatter={(v: number) => String(h.logCount ? fromLogCount(v) : v)}
              />
              <YAxis
                yAxisId="group"
                orientation="right"
                stroke={C.group}
                fontSize={11}
                width={36}
                allowDecimals={false}
                tickFormatter={(v: number) => String(h.logCount ? fromLogCount(v) : v)}
              />
              <Tooltip
                formatter={(v, name) => [
                  h.logCount ? fromLogCount(Number(v)) : Number(v),
                  name === 'group' ? 'selected group' : 'all weights',
                ]}
                labelFormatter={(x) => `from ${fmt(Number(x))}`}
              />
              {AREAS.map((a) => (
                <Area
                  key={a.dataKey}
                  {...a}
                  yAxisId={a.dataKey === 'count' ? 'all' : 'group'}
                  name={a.dataKey}
                  type="stepAfter"
                  isAnimationActive={false}
                />
              ))}
              {grid.map((v, i) => (
                <ReferenceLine
                  key={i}
                  x={v}
                  yAxisId="all"
                  stroke={C.bad}
                  strokeOpacity={grid.length > 64 ? 0.35 : 0.7}
                  strokeWidth={1}
                  ifOverflow="hidden"
                />
              ))}
            </ComposedChart>
          </ResponsiveContainer>
        </div>
      )}
    </ChartCard>
  );
}
