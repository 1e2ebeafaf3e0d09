// Accuracy vs fraction bits for both ways of cutting the mantissa, with the fp32 accuracy as a
// dashed line and the slider's k marked. Points appear as they are computed (slider or sweep).
import { useMemo } from 'react';
import { CartesianGrid, Legend, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, YAxis } from 'recharts';
import { useApp } from '../../../state/react.tsx';
import { visionCurve } from '../../../state/vision-slice.ts';
import { kAxis, modeLine } from '../curve.tsx';
import { ChartCard, ChartEmpty } from '../../charts/ChartCard.tsx';
import { AXIS, C } from '../../charts/palette.ts';

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export function VisionCurve() {
  const points = useApp((s) => s.vision.points);
  const k = useApp((s) => s.vision.k);
  const model = useApp((s) => s.vision.model);
  const sweep = useApp((s) => s.vision.sweep);
  const status = useApp((s) => s.vision.status);
  const ready = status === 'ready';
  const startSweep = useApp((s) => s.sweepVision);
  const stopSweep = useApp((s) => s.stopVisionSweep);
  const rows = useMemo(() => visionCurve(points), [points]);
  const fp32 = points.fp32?.accuracy ?? null;
  const computed = rows.reduce((n, r) => n + (r.truncate !== null ? 1 : 0) + (r.rne !== null ? 1 : 0), 0);
  const json = computed
    ? {
        model: model?.name,
        data: model?.dataName,
        images: model?.images,
        fp32,
        points: Object.values(points)
          .filter((p) => p.k !== null)
          .sort((a, b) => (a.mode ?? '').localeCompare(b.mode ?? '') || a.k! - b.k!),
      }
    : null;

  const controls = (
    <>
      {sweep ? (
        <>
          <span className="muted" data-testid="vision-sweep-progress">
            Sweeping: {sweep.done} of {sweep.total} points
            {sweep.current && sweep.current.k !== null
              ? ` · ${sweep.current.mode} k=${sweep.current.k}, ${sweep.current.done} / ${sweep.current.total} images`
              : ''}
          </span>
          <button type="button" className="mini-button" onClick={stopSweep} data-testid="vision-sweep-stop">
            Stop
          </button>
        </>
      ) : (
        <button
          type="button"
          className="mini-button primary"
          onClick={() => void startSweep()}
          disabled={!ready || computed === 48}
          data-testid="vision-sweep"
        >
          {computed === 48
            ? 'Curve complete'
            : computed
              ? `Fill the curve (${48 - computed} points left)`
              : 'Fill the curve (48 points)'}
        </button>
      )}
      <span className="muted small">
        Each point is a rewritten model in a new onnxruntime session (a few seconds each); coarse bits first.
      </span>
    </>
  );

  return (
    <ChartCard
      title="Accuracy vs fraction bits"
      testId="vision-curve"
      caption="Each float weight keeps its sign, its 8-bit exponent and k of its 23 fraction bits. Read right to left: accuracy stays flat while the dropped bits are noise, then truncation falls off a cliff; round-to-nearest does not."
      json={json}
      controls={controls}
    >
      {computed === 0 && fp32 === null ? (
        <ChartEmpty height={260}>
          {ready ? 'Computing the fp32 reference…' : status === 'error' ? 'No model open.' : 'Opening the model…'}
        </ChartEmpty>
      ) : (
        <ResponsiveContainer width="100%" height={260}>
          <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 16, left: 0 }}>
            <CartesianGrid stroke={C.grid} />
            {kAxis([0, 1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 23], {
              value: 'fraction bits kept (k)',
              position: 'insideBottom',
              offset: -8,
            })}
            <YAxis
              type="number"
              domain={[0, 1]}
              ticks={[0, 0.25, 0.5, 0.75, 1]}
              allowDataOverflow
              tickFormatter={(v: number) => `${Math.round(v * 100)}%`}
              {...AXIS}
              width={44}
            />
            <Tooltip
              formatter={(v, name) => [pct(Number(v)), name === 'rne' ? 'round to nearest' : 'truncate']}
              labelFormatter={(l) => `k = ${l}`}
            />
            <Legend
              formatter={(name: string) => (name === 'rne' ? 'round to nearest (RNE)' : 'truncate')}
              wrapperStyle={{ fontSize: 12 }}
              verticalAlign="top"
              height={24}
            />
            {fp32 !== null && (
              <ReferenceLine
                y={fp32}
                stroke={C.ok}
                strokeDasharray="5 4"
                label={{ value: `fp32 ${pct(fp32)}`, position: 'insideTopLeft', fontSize: 11, fill: C.ok }}
              />
            )}
            <ReferenceLine x={k} stroke={C.axis} strokeDasharray="2 3" />
            {modeLine('truncate', { dataKey: 'truncate' })}
            {modeLine('rne', { dataKey: 'rne' })}
          </LineChart>
        </ResponsiveContainer>
      )}
    </ChartCard>
  );
}
