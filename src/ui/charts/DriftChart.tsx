// Output drift across precisions: per-layer SQNR of the residual stream for every evaluated
// variant on one chart, KL / top-1 / perplexity in a table, and perplexity vs bits per weight
// (the Pareto view: points no other variant beats on both axes are on the frontier).
import { useMemo } from 'react';
import {
  CartesianGrid,
  LabelList,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Scatter,
  ScatterChart,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { useApp, useShallow } from '../../state/react.tsx';
import { TextControl } from '../quantize/TextControl.tsx';
import { ChartCard, ChartEmpty } from './ChartCard.tsx';
import { driftExport, driftSummary, paretoPoints, sqnrRows } from './drift-data.ts';
import { AXIS, C, seriesColor } from './palette.ts';

const num = (v: number | null, digits: number, unit = '') => (v === null ? '—' : `${v.toFixed(digits)}${unit}`);

export function DriftChart() {
  const variants = useApp((s) => s.variants.list);
  const drift = useApp((s) => s.charts.drift);
  const ready = useApp((s) => s.model.status === 'ready');
  const busy = useApp((s) => Object.values(s.charts.drift).some((d) => d.status === 'loading'));
  const computeAll = useApp((s) => s.computeAllDrift);
  const compute = useApp((s) => s.computeDrift);
  const ids = useApp(useShallow((s) => s.variants.list.map((v) => v.id)));
  const windowsUsed = Object.values(drift).find((d) => d.data)?.data;

  const rows = useMemo(() => sqnrRows(variants, drift), [variants, drift]);
  const table = useMemo(() => driftSummary(variants, drift), [variants, drift]);
  const pareto = useMemo(() => paretoPoints(variants, drift), [variants, drift]);
  const lines = variants.filter((v) => v.id !== 'base' && drift[v.id]?.status === 'ready');
  const frontier = pareto.filter((p) => p.frontier);
  const color = (id: string) => seriesColor(Math.max(0, ids.indexOf(id)));
  const missing = variants.filter((v) => !drift[v.id] || drift[v.id].status === 'error').length;

  const controls = (
    <>
      <button
        type="button"
        className="mini-button primary"
        onClick={() => void computeAll()}
        disabled={!ready || busy || missing === 0}
        data-testid="drift-evaluate"
      >
        {busy ? 'Evaluating…' : missing ? `Evaluate ${missing} variant${missing > 1 ? 's' : ''}` : 'All evaluated'}
      </button>
      <TextControl purpose="eval" disabled={busy} windowsTestId="drift-windows" />
      {variants.length < 2 && (
        <span className="muted">Quantize a variant in the Quantize tab to compare it with fp32.</span>
      )}
    </>
  );

  return (
    <ChartCard
      title="Output drift and Pareto"
      wide
      testId="drift-chart"
      caption="Left: SQNR (dB) of each layer's output vs the fp32 model — higher is closer, each 6 dB ≈ one more bit. Right: perplexity vs storage bits per weight; circled points are the Pareto frontier (nothing is both smaller and better)."
      json={pareto.length ? driftExport(variants, drift) : null}
      controls={controls}
      status={
        <span>
          Evaluation text: the chosen text above
          {windowsUsed &&
            ` (${windowsUsed.windows} windows, ${windowsUsed.tokens} scored tokens, on the ${windowsUsed.backend === 'webgpu' ? 'GPU' : 'CPU'})`}
          , the same for every variant; changing it clears the results.
        </span>
      }
    >
      <div className="chart-pair">
        <div className="chart-main" data-testid="drift-sqnr">
          {rows.length === 0 ? (
            <ChartEmpty height={240}>{busy ? 'Evaluating…' : 'No quantized variant evaluated yet.'}</ChartEmpty>
          ) : (
            <ResponsiveContainer width="100%" height={240}>
              <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 4, left: 0 }}>
                <CartesianGrid stroke={C.grid} />
                <XAxis dataKey="layer" {...AXIS} />
                <YAxis {...AXIS} width={40} unit=" dB" />
                <Tooltip
                  formatter={(v, name) => [
                    `${Number(v).toFixed(1)} dB`,
                    variants.find((x) => x.id === name)?.label ?? name,
                  ]}
                />
                <Legend
                  formatter={(id: string) => variants.find((x) => x.id === id)?.label ?? id}
                  wrapperStyle={{ fontSize: 12 }}
                />
                {lines.map((v) => (
                  <Line
                    key={v.id}
                    dataKey={v.id}
                    stroke={color(v.id)}
                    strokeWidth={2}
                    dot={{ r: 3 }}
                    isAnimationActive={false}
                  />
                ))}
              </LineChart>
            </ResponsiveContainer>
          )}
        </div>
        <div className="chart-main" data-testid="drift-pareto">
          {pareto.length === 0 ? (
            <ChartEmpty height={240}>Perplexity appears here once evaluated.</ChartEmpty>
          ) : (
            <ResponsiveContainer width="100%" height={240}>
              <ScatterChart margin={{ top: 16, right: 48, bottom: 4, left: 0 }}>
                <CartesianGrid stroke={C.grid} />
                <XAxis
                  dataKey="bits"
                  type="number"
                  name="bits / weight"
                  {...AXIS}
                  domain={[0, 'dataMax']}
                  tickFormatter={(v: number) => v.toFixed(0)}
                  unit=" b"
                />
                <YAxis
                  dataKey="ppl"
                  type="number"
                  name="perplexity"
                  {...AXIS}
                  width={48}
                  domain={['auto', 'auto']}
                  tickFormatter={(v: number) => v.toFixed(2)}
                />
                <Tooltip
                  formatter={(v, name) => (name === 'perplexity' ? Number(v).toFixed(3) : Number(v).toFixed(2))}
                />
                <Scatter
                  data={frontier}
                  line={{ stroke: C.ok, strokeDasharray: '4 3' }}
                  fill={C.ok}
                  shape="circle"
                  isAnimationActive={false}
                />
                <Scatter data={pareto} fill={C.accent} isAnimationActive={false}>
                  <LabelList dataKey="label" position="right" offset={8} fontSize={11} fill={C.axis} />
                </Scatter>
              </ScatterChart>
            </ResponsiveContainer>
          )}
        </div>
      </div>
      <table className="data-table" data-testid="drift-table">
        <thead>
          <tr>
            <th>Variant</th>
            <th>Bits / weight</th>
            <th>Perplexity</th>
            <th title="mean KL divergence of the next-token distribution vs fp32">KL</th>
            <th title="positions where the most likely next token is the fp32 one">Top-1 agree</th>
            <th title="worst layer">Min SQNR</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {table.map((t) => (
            <tr key={t.id} data-variant={t.id}>
              <td>
                <span className="swatch" style={{ background: t.id === 'base' ? C.axis : color(t.id) }} />
                {t.label}
              </td>
              <td>{t.bits.toFixed(2)}</td>
              <td>{num(t.ppl, 3)}</td>
              <td>{num(t.klMean, 4)}</td>
              <td>{num(t.top1Pct, 1, ' %')}</td>
              <td>{num(t.minSqnr, 1, ' dB')}</td>
              <td>
                {drift[t.id]?.status === 'loading' ? (
                  <span className="muted">…</span>
                ) : (
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => void compute(t.id)}
                    disabled={!ready || busy}
                  >
                    {drift[t.id]?.status === 'ready' ? 'again' : 'evaluate'}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ChartCard>
  );
}
