// Bucket collisions: for the chosen tensor, how many weights each code of a uniform quantizer
// receives (bars), and a comparison across bit widths and granularities (table). Computed in
// the worker with the GPU histogram kernel when there is a device.
import { useEffect, useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useApp, useShallow } from '../../state/react.tsx';
import { ChartCard, ChartEmpty } from './ChartCard.tsx';
import { codeRows, collisionsExport, comparisonRows, pickStats } from './collisions-data.ts';
import { AXIS, C } from './palette.ts';

const BITS = [8, 4, 3, 2];
const GROUPS: { value: number; label: string }[] = [
  { value: -1, label: 'per tensor' },
  { value: 0, label: 'per row' },
  { value: 128, label: 'g128' },
  { value: 64, label: 'g64' },
  { value: 32, label: 'g32' },
  { value: 16, label: 'g16' },
];

const toggle = (xs: number[], x: number, on: boolean) => (on ? [...new Set([...xs, x])] : xs.filter((y) => y !== x));
const formLabel = (bits: number, group: number) => `int${bits} ${group > 0 ? `g${group}` : 'per-row'}`;

export function CollisionsChart() {
  const c = useApp(useShallow((s) => s.charts.collisions));
  const tensor = useApp(useShallow((s) => s.charts.tensor));
  const form = useApp(useShallow((s) => ({ bits: s.variants.form.bits, group: s.variants.form.group })));
  const ready = useApp((s) => s.model.status === 'ready');
  const load = useApp((s) => s.loadCollisions);
  const setOpts = useApp((s) => s.setCollisionOptions);
  const [picked, setPicked] = useState<string | null>(null);

  useEffect(() => {
    if (!ready || !c.bits.length || !c.groups.length) return;
    const t = setTimeout(() => void load(), 120);
    return () => clearTimeout(t);
  }, [ready, load, tensor.layer, tensor.linear, c.bits, c.groups, c.sym]);

  const r = c.data;
  const table = useMemo(() => (r ? comparisonRows(r) : []), [r]);
  const stats = r ? pickStats(r, picked ?? formLabel(form.bits, form.group)) : undefined;
  const bars = useMemo(() => (stats ? codeRows(stats) : []), [stats]);
  const unused = bars.filter((b) => b.empty).map((b) => b.code);

  const controls = (
    <>
      <span className="control-label">Bits</span>
      {BITS.map((b) => (
        <label key={b} className="chip">
          <input
            type="checkbox"
            checked={c.bits.includes(b)}
            onChange={(e) => setOpts({ bits: toggle(c.bits, b, e.target.checked).sort((x, y) => y - x) })}
          />
          {b}
        </label>
      ))}
      <span className="control-label">Granularity</span>
      {GROUPS.map((g) => (
        <label key={g.value} className="chip">
          <input
            type="checkbox"
            checked={c.groups.includes(g.value)}
            onChange={(e) => setOpts({ groups: toggle(c.groups, g.value, e.target.checked).sort((x, y) => x - y) })}
          />
          {g.label}
        </label>
      ))}
      <label className="check">
        <input
          type="checkbox"
          checked={c.sym}
          onChange={(e) => setOpts({ sym: e.target.checked })}
          data-testid="collisions-sym"
        />
        symmetric
      </label>
    </>
  );

  return (
    <ChartCard
      title="Bucket collisions"
      testId="collisions-chart"
      caption="Each bar is one integer code: how many weights of the tensor were rounded to it. Empty codes are wasted resolution; a tall bar means many different weights became the same value. The table compares quantizers."
      json={r ? collisionsExport(r) : null}
      controls={controls}
      status={
        r && (
          <span data-testid="collisions-backend">
            computed on the {r.backend === 'webgpu' ? 'GPU (histogram kernel with atomics)' : 'CPU (the kernel’s twin)'}{' '}
            in {r.ms.toFixed(0)} ms · {r.shape[0]}×{r.shape[1]} weights
          </span>
        )
      }
    >
      {c.status === 'error' && <ChartEmpty>{c.error?.message}</ChartEmpty>}
      {c.status !== 'error' && !stats && (
        <ChartEmpty>{ready ? 'Counting codes…' : 'Waiting for the model…'}</ChartEmpty>
      )}
      {c.status !== 'error' && stats && r && (
        <>
          <div className="picker-row small">
            <label>
              Bars for
              <select value={stats.label} onChange={(e) => setPicked(e.target.value)} data-testid="collisions-pick">
                {r.rows.map((s) => (
                  <option key={s.label} value={s.label}>
                    {s.label}
                  </option>
                ))}
              </select>
            </label>
            <span className="muted">
              {stats.total} weights in {stats.counts.length} codes · largest bucket: code {stats.largest.code} with{' '}
              {stats.largest.count} ({(stats.largest.share * 100).toFixed(1)} %) ·{' '}
              {unused.length ? `${unused.length} unused` : 'every code used'}
            </span>
          </div>
          <div data-testid="collisions-plot" data-label={stats.label} data-counts={stats.counts.join(',')}>
            <ResponsiveContainer width="100%" height={220}>
              <BarChart
                data={bars}
                margin={{ top: 8, right: 16, bottom: 4, left: 0 }}
                barCategoryGap={bars.length > 64 ? 0 : 1}
              >
                <CartesianGrid stroke={C.grid} vertical={false} />
                <XAxis dataKey="code" {...AXIS} interval={bars.length > 32 ? Math.ceil(bars.length / 16) - 1 : 0} />
                <YAxis {...AXIS} width={48} />
                <Tooltip formatter={(v) => [Number(v), 'weights']} labelFormatter={(code) => `code ${code}`} />
                <Bar dataKey="count" isAnimationActive={false}>
                  {bars.map((b) => (
                    <Cell key={b.code} fill={b.code === stats.largest.code ? C.warn : C.accent} />
                  ))}
                </Bar>
              </BarChart>
            </ResponsiveContainer>
          </div>
          <table className="data-table" data-testid="collisions-table">
            <thead>
              <tr>
                <th>Quantizer</th>
                <th title="codes no weight maps to">Unused codes</th>
                <th title="share of weights in the fullest code">Largest bucket</th>
                <th title="weights outside the grid, clamped to the first or last code">Clipped</th>
                <th title="weights per used code">Weights / code</th>
              </tr>
            </thead>
            <tbody>
              {table.map((t) => (
                <tr
                  key={t.label}
                  className={t.label === stats.label ? 'selected' : undefined}
                  onClick={() => setPicked(t.label)}
                >
                  <td>{t.label}</td>
                  <td>{t.unusedPct.toFixed(1)} %</td>
                  <td>{t.largestPct.toFixed(1)} %</td>
                  <td>{t.clippedPct.toFixed(2)} %</td>
                  <td>{t.perCode.toFixed(1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </ChartCard>
  );
}
