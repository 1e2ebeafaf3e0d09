// Truncation lab, language-model half: keep k of fp32's 23 fraction bits in every linear
// (truncate or round to nearest even), and watch perplexity and top-1 agreement vs the fp32
// model, point by point as the slider moves, with the greedy sample text of the current k.
import { useEffect, useMemo } from 'react';
import { CartesianGrid, Legend, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, YAxis } from 'recharts';
import { truncKey } from '../../state/lab-constants.ts';
import type { TruncMode } from '../../state/lab-types.ts';
import { useApp, useShallow } from '../../state/react.tsx';
import { Segmented } from '../common/Segmented.tsx';
import { Slider } from '../common/Slider.tsx';
import { ChartCard } from '../charts/ChartCard.tsx';
import { AXIS, C } from '../charts/palette.ts';
import { K_RANGE, kAxis, modeLine } from './curve.tsx';
import { kneeOf, storageBits, truncationExport, truncationRows } from './lm-data.ts';

const MODES: { id: TruncMode; label: string }[] = [
  { id: 'truncate', label: 'Truncate' },
  { id: 'rne', label: 'Round to nearest even' },
];

export function LmTruncationLab() {
  const t = useApp(useShallow((s) => s.truncation));
  const ready = useApp((s) => s.model.status === 'ready');
  const set = useApp((s) => s.setTruncation);
  const sweep = useApp((s) => s.sweepTruncation);
  const stop = useApp((s) => s.stopTruncation);
  const job = useApp((s) => s.jobs.list.find((j) => j.kind === 'truncation' && j.status === 'running'));

  // The slider's point is computed as soon as the model is ready (and after a reload).
  useEffect(() => {
    if (ready) set({});
  }, [ready, set]);

  const rows = useMemo(() => truncationRows(t.points), [t.points]);
  const key = truncKey(t.mode, t.k);
  const point = t.points[key];
  const computed = Object.keys(t.points).length;
  const knee = kneeOf(t.points, t.mode);
  // Log scale once perplexity spans a wide range (the collapse at small k), linear before.
  const ppls = Object.values(t.points).map((p) => p.ppl);
  const logScale = ppls.length > 1 && Math.max(...ppls) / Math.min(...ppls) > 4;

  return (
    <div className="lm-lab" data-testid="lm-truncation">
      <section className="card trunc-controls">
        <div className="card-head">
          <h2>Language model · fp32 fraction bits</h2>
          <span className="badge" data-testid="trunc-bits">
            {t.k} fraction bits · {storageBits(t.k)}-bit floats
          </span>
        </div>
        <div className="slider-row">
          <Slider label="Fraction bits" testId="trunc-slider" value={t.k} {...K_RANGE} onChange={(k) => set({ k })} />
          <span className="trunc-k" data-testid="trunc-k">
            k = {t.k}
          </span>
        </div>
        <div className="picker-row">
          <Segmented
            label="Rounding"
            options={MODES}
            value={t.mode}
            onChange={(mode) => set({ mode })}
            testIdPrefix="trunc-mode-"
          />
          <button type="button" className="mini-button" onClick={sweep} disabled={!ready}>
            Fill the whole curve
          </button>
          <button type="button" className="mini-button" onClick={stop} disabled={!job}>
            Stop
          </button>
          <span className="muted small" data-testid="trunc-status">
            {job
              ? `computing ${job.label.replace(/^Truncation lab: /, '')} · ${job.stage}`
              : `${computed} point${computed === 1 ? '' : 's'} computed`}
          </span>
        </div>
      </section>

      <ChartCard
        title="Perplexity and top-1 agreement vs fraction bits"
        testId="trunc-chart"
        caption={`Left axis: perplexity${logScale ? ' (log scale)' : ''}; right axis: % of next-token argmaxes equal to fp32's. Each point truncates every linear's weights, then scores the first ${t.windows} evaluation windows (${t.windows * 256} tokens, a subset for speed). Accuracy holds down to a few fraction bits, then collapses.`}
        json={computed ? truncationExport(t.points, t.windows) : null}
        status={
          knee !== null && (
            <span>
              {t.mode === 'rne' ? 'Round-to-nearest' : 'Truncation'} keeps ≥ 99 % top-1 agreement down to k = {knee}{' '}
              among the points computed.
            </span>
          )
        }
      >
        <div data-testid="trunc-plot" data-points={computed}>
          <ResponsiveContainer width="100%" height={280}>
            <LineChart data={rows} margin={{ top: 8, right: 8, bottom: 4, left: 0 }}>
              <CartesianGrid stroke={C.grid} />
              {kAxis([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 23])}
              <YAxis
                yAxisId="ppl"
                scale={logScale ? 'log' : 'auto'}
                domain={['auto', 'auto']}
                {...AXIS}
                width={52}
                tickFormatter={(v: number) => (v >= 1000 ? v.toExponential(1) : v.toPrecision(3))}
              />
              <YAxis yAxisId="top1" orientation="right" domain={[0, 100]} {...AXIS} width={40} unit="%" />
              <Tooltip
                formatter={(v, name) => [Number(v).toFixed(String(name).startsWith('top-1') ? 1 : 3), name]}
                labelFormatter={(k) => `k = ${k}`}
              />
              <Legend wrapperStyle={{ fontSize: 12 }} />
              <ReferenceLine x={t.k} yAxisId="ppl" stroke={C.axis} strokeDasharray="3 3" />
              {modeLine('truncate', { yAxisId: 'ppl', dataKey: 'pplTrunc', name: 'ppl truncate' })}
              {modeLine('rne', { yAxisId: 'ppl', dataKey: 'pplRne', name: 'ppl RNE' })}
              {modeLine('truncate', { yAxisId: 'top1', dataKey: 'top1Trunc', name: 'top-1 truncate', dashed: true })}
              {modeLine('rne', { yAxisId: 'top1', dataKey: 'top1Rne', name: 'top-1 RNE', dashed: true })}
            </LineChart>
          </ResponsiveContainer>
        </div>
      </ChartCard>

      <section className="card" data-testid="trunc-sample" aria-label="Sample text">
        <div className="card-head">
          <h2>
            Sample at k = {t.k} ({t.mode === 'rne' ? 'RNE' : 'truncate'})
          </h2>
          {point && (
            <span className="muted small" data-testid="trunc-point">
              ppl {point.ppl.toFixed(3)} · top-1 {(point.top1 * 100).toFixed(1)} % · KL{' '}
              {point.klMean < 1e-3 ? point.klMean.toExponential(1) : point.klMean.toFixed(4)} ·{' '}
              {point.backend === 'webgpu' ? 'WebGPU' : 'CPU'} {point.seconds.toFixed(1)} s
            </span>
          )}
        </div>
        <p className="story">
          <mark className="prompt">{t.prompt}</mark>
          {point ? (
            <span data-testid="trunc-sample-text">{point.sample}</span>
          ) : (
            <span className="muted"> {t.running === key ? '…generating' : ready ? '…waiting' : ''}</span>
          )}
        </p>
        <p className="hint">Greedy decoding, {t.sampleTokens} tokens, same prompt at every k.</p>
      </section>
    </div>
  );
}
