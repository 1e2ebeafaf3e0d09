// What quantization did to one variant's weights, per layer and linear: weight SQNR (dB, higher
// = closer to fp32), GPTQ's loss, and LLM.int8's outlier input features. From its report.
import { LINEAR_NAMES } from '../../state/lab-constants.ts';
import type { VariantInfo } from '../../state/lab-types.ts';

const db = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '∞');

/** Background tint for a weight SQNR: green from 20 dB up (deeper as it rises), red below. */
function tint(v: number): string {
  const x = Number.isFinite(v) ? v : 60;
  const [color, t] = x >= 20 ? ['var(--ok)', Math.min(1, (x - 20) / 30)] : ['var(--bad)', Math.min(1, (20 - x) / 15)];
  return `color-mix(in srgb, ${color} ${Math.round(8 + t * 24)}%, transparent)`;
}

export function VariantDetails({ v }: { v: VariantInfo }) {
  const layers = v.report?.layers ?? [];
  if (layers.length === 0)
    return (
      <p className="muted small">
        No per-layer report for this variant{v.origin === 'imported' ? ' (stored without one)' : ''}.
      </p>
    );
  const gptq = layers.some((l) => l.gptqLoss !== undefined);
  const outliers = layers.some((l) => l.outlierDims);
  return (
    <div className="variant-details" data-testid="variant-details">
      <table className="data-table compact">
        <thead>
          <tr>
            <th>Layer</th>
            {LINEAR_NAMES.map((n) => (
              <th key={n} className="num">
                {n}
              </th>
            ))}
            {gptq && <th className="num">GPTQ loss</th>}
            {outliers && <th className="num">outlier dims</th>}
          </tr>
        </thead>
        <tbody>
          {layers.map((l, i) => (
            <tr key={i}>
              <td>L{i}</td>
              {LINEAR_NAMES.map((n) => (
                <td
                  key={n}
                  className="num"
                  style={{ background: tint(l.linears[n].sqnrDb) }}
                  title={
                    l.linears[n].gptqLoss !== undefined
                      ? `GPTQ loss ${l.linears[n].gptqLoss!.toPrecision(3)}`
                      : undefined
                  }
                >
                  {db(l.linears[n].sqnrDb)}
                </td>
              ))}
              {gptq && <td className="num">{l.gptqLoss?.toPrecision(3) ?? '—'}</td>}
              {outliers && (
                <td className="num">
                  {l.outlierDims ? Object.values(l.outlierDims).reduce((a, d) => a + d.length, 0) : '—'}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <p className="hint">
        Weight SQNR in dB of each linear (ŵ vs w): about 6 dB per bit; green is close to fp32, red is far.
      </p>
    </div>
  );
}
