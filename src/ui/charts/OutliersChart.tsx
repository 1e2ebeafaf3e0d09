// Outlier features: per layer, the largest |x| each input feature of a linear reached over the
// calibration windows, with the LLM.int8 threshold; the count of features over it per layer.
import { useEffect, useMemo, useState } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
  ZAxis,
} from 'recharts';
import type { LinearInputSite } from '../../state/lab-types.ts';
import { useApp, useShallow } from '../../state/react.tsx';
import { NumberField } from '../common/NumberField.tsx';
import { Select, indexChoices } from '../common/Select.tsx';
import { ChartCard, ChartEmpty } from './ChartCard.tsx';
import { outliersExport, overCounts, recurringOutliers, stripPoints } from './outliers-data.ts';
import { AXIS, C, seriesColor } from './palette.ts';

const SITE_OPTIONS: { value: LinearInputSite; label: string }[] = [
  { value: 'attn', label: 'attention input (wq, wk, wv)' },
  { value: 'wo', label: 'attention output (wo)' },
  { value: 'ffn', label: 'FFN input (w1, w3)' },
  { value: 'w2', label: 'FFN hidden (w2)' },
];

export function OutliersChart() {
  const o = useApp(useShallow((s) => s.charts.outliers));
  const ready = useApp((s) => s.model.status === 'ready');
  const load = useApp((s) => s.loadOutliers);
  const setOpts = useApp((s) => s.setOutlierOptions);
  const [layers, setLayers] = useState<'all' | number>('all');

  useEffect(() => {
    if (ready && o.status === 'idle') void load();
  }, [ready, o.status, load]);

  const r = o.data;
  const nLayers = r?.sites[o.site].layers.length ?? 0;
  const series = useMemo(() => {
    if (!r) return [];
    const shown = layers === 'all' ? Array.from({ length: nLayers }, (_, i) => i) : [layers];
    return shown.map((l) => ({ layer: l, points: stripPoints(r, o.site, l, o.threshold) }));
  }, [r, o.site, o.threshold, layers, nLayers]);
  const counts = useMemo(() => (r ? overCounts(r, o.site, o.threshold) : []), [r, o.site, o.threshold]);
  const recurring = useMemo(() => (r ? recurringOutliers(r, o.site, o.threshold) : []), [r, o.site, o.threshold]);
  const yMax = Math.max(o.threshold * 1.15, ...counts.map((c) => c.max * 1.05));

  const controls = (
    <>
      <Select
        label="Input of"
        value={o.site}
        choices={SITE_OPTIONS}
        onChange={(site) => setOpts({ site: site as LinearInputSite })}
        testId="outliers-site"
      />
      <Select
        label="Layers"
        value={String(layers)}
        choices={[{ value: 'all', label: 'all' }, ...indexChoices(nLayers)]}
        onChange={(v) => setLayers(v === 'all' ? 'all' : Number(v))}
      />
      <NumberField
        label="Threshold α"
        id="outlier-threshold"
        testId="outliers-threshold"
        value={o.threshold}
        min={0.01}
        max={1000}
        step={0.5}
        onCommit={(v) => setOpts({ threshold: v })}
      />
      <button
        type="button"
        className="mini-button"
        onClick={() => void load()}
        disabled={!ready || o.status === 'loading'}
      >
        Capture again
      </button>
    </>
  );

  return (
    <ChartCard
      wide
      title="Outlier features"
      testId="outliers-chart"
      caption="Each dot is one input feature of the chosen linear: the largest |activation| it reached over the calibration text (one colour per layer). Features above the red line would go through LLM.int8's 16-bit path."
      json={r ? outliersExport(r, o.site, o.threshold) : null}
      controls={controls}
      status={
        r && (
          <span>
            {r.windows} calibration windows · {r.tokens} tokens · fp32 model
          </span>
        )
      }
    >
      {o.status === 'error' && <ChartEmpty>{o.error?.message}</ChartEmpty>}
      {o.status !== 'error' && !r && (
        <ChartEmpty>{ready ? 'Running the calibration text through the model…' : 'Waiting for the model…'}</ChartEmpty>
      )}
      {o.status !== 'error' && r && (
        <div className="chart-pair">
          <div className="chart-main" data-testid="outliers-plot">
            <ResponsiveContainer width="100%" height={240}>
              <ScatterChart margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
                <CartesianGrid stroke={C.grid} />
                <XAxis
                  dataKey="feature"
                  type="number"
                  name="feature"
                  domain={[0, r.sites[o.site].width - 1]}
                  {...AXIS}
                />
                <YAxis
                  dataKey="absMax"
                  type="number"
                  name="max |x|"
                  domain={[0, yMax]}
                  {...AXIS}
                  width={44}
                  tickFormatter={(v: number) => v.toFixed(1)}
                />
                <ZAxis range={[14, 14]} />
                <Tooltip formatter={(v) => Number(v).toFixed(3)} />
                {series.map((s) => (
                  <Scatter
                    key={s.layer}
                    name={`layer ${s.layer}`}
                    data={s.points}
                    fill={seriesColor(s.layer)}
                    isAnimationActive={false}
                  />
                ))}
                <ReferenceLine
                  y={o.threshold}
                  stroke={C.bad}
                  strokeDasharray="5 4"
                  label={{ value: `α = ${o.threshold}`, fill: C.bad, fontSize: 11, position: 'insideTopRight' }}
                  ifOverflow="extendDomain"
                />
              </ScatterChart>
            </ResponsiveContainer>
          </div>
          <div className="chart-side" data-testid="outliers-counts">
            <div className="side-title">Features ≥ α per layer</div>
            <ResponsiveContainer width="100%" height={150}>
              <BarChart data={counts} margin={{ top: 4, right: 8, bottom: 0, left: -20 }}>
                <XAxis dataKey="layer" {...AXIS} />
                <YAxis allowDecimals={false} {...AXIS} />
                <Tooltip formatter={(v) => [Number(v), 'features ≥ α']} />
                <Bar dataKey="over" fill={C.bad} isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
            <ul className="plain small">
              {counts.map((c) => (
                <li key={c.layer}>
                  {c.layer}: <b>{c.over}</b> over · peak {c.max.toFixed(2)} at #{c.top}
                </li>
              ))}
            </ul>
            {recurring.length > 0 && (
              <p className="hint">
                Recurring across layers:{' '}
                {recurring
                  .slice(0, 6)
                  .map((x) => `#${x.feature} (${x.layers})`)
                  .join(', ')}
              </p>
            )}
          </div>
        </div>
      )}
    </ChartCard>
  );
}
