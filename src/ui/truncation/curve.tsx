// Pieces both truncation curves draw (language model: perplexity and top-1; vision: accuracy):
// the x axis over k, the fraction bits kept of fp32's 23, and one line per rounding mode.
// Functions returning recharts elements, not components: recharts reads its children's props.
import { Line, XAxis } from 'recharts';
import type { TruncMode } from '../../state/lab-types.ts';
import { AXIS, C } from '../charts/palette.ts';

/** What k ranges over: 0 … 23 fraction bits, one at a time (the sliders). */
export const K_RANGE = { min: 0, max: 23, step: 1 };

/** The k axis, 0 … 23 with the given ticks (and an optional axis label). */
export function kAxis(ticks: number[], label?: { value: string; position: 'insideBottom'; offset: number }) {
  return (
    <XAxis
      dataKey="k"
      type="number"
      domain={[K_RANGE.min, K_RANGE.max]}
      ticks={ticks}
      {...AXIS}
      {...(label && { label: { ...label, fontSize: 11, fill: C.axis } })}
    />
  );
}

interface ModeLine {
  dataKey: string;
  name?: string;
  yAxisId?: string;
  dashed?: boolean; // a secondary measure: dashed, thin, small dots
}

/** A curve of one rounding mode: truncation in the accent colour, round-to-nearest-even in orange. */
export function modeLine(mode: TruncMode, { dashed, ...line }: ModeLine) {
  const look = dashed ? { strokeDasharray: '5 3', dot: { r: 2 } } : { strokeWidth: 2, dot: { r: 3 } };
  return (
    <Line
      key={line.dataKey}
      {...line}
      stroke={mode === 'rne' ? C.rne : C.accent}
      {...look}
      connectNulls
      isAnimationActive={false}
    />
  );
}
