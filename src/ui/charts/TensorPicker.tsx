// Which tensor the weight charts read (layer × linear) and which quantizer they draw — the same
// options as the Quantize form, so the grid is the one a Quantize press would use.
import { LINEAR_NAMES, specLabel } from '../../state/lab-constants.ts';
import type { LinearName } from '../../state/lab-types.ts';
import { useApp, useShallow } from '../../state/react.tsx';

export const LINEAR_LABEL: Record<LinearName, string> = {
  wq: 'wq (query)',
  wk: 'wk (key)',
  wv: 'wv (value)',
  wo: 'wo (output)',
  w1: 'w1 (gate)',
  w2: 'w2 (down)',
  w3: 'w3 (up)',
};

export function TensorPicker() {
  const tensor = useApp(useShallow((s) => s.charts.tensor));
  const select = useApp((s) => s.selectTensor);
  const nLayers = useApp((s) => s.model.info?.config.nLayers ?? 0);
  const form = useApp((s) => s.variants.form);
  const setForm = useApp((s) => s.setQuantForm);
  const setTab = useApp((s) => s.setTab);
  const uniform = form.method === 'rtn' || form.method === 'gptq';
  return (
    <div className="card tensor-picker" data-testid="tensor-picker">
      <div className="picker-row">
        <label>
          Layer
          <select
            data-testid="pick-layer"
            value={tensor.layer}
            onChange={(e) => select({ layer: Number(e.target.value) })}
          >
            {Array.from({ length: nLayers }, (_, l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Linear
          <select
            data-testid="pick-linear"
            value={tensor.linear}
            onChange={(e) => select({ linear: e.target.value as LinearName })}
          >
            {LINEAR_NAMES.map((n) => (
              <option key={n} value={n}>
                {LINEAR_LABEL[n]}
              </option>
            ))}
          </select>
        </label>
        <span className="picker-sep" aria-hidden />
        <span className="picker-quantizer">
          Quantizer <b data-testid="chart-quantizer">{specLabel(form)}</b>
        </span>
        {uniform && (
          <>
            <label>
              Bits
              <select
                value={form.bits}
                onChange={(e) => setForm({ bits: Number(e.target.value) })}
                data-testid="pick-bits"
              >
                {[2, 3, 4, 5, 6, 7, 8].map((b) => (
                  <option key={b} value={b}>
                    {b}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Group
              <select
                value={form.group}
                onChange={(e) => setForm({ group: Number(e.target.value) })}
                data-testid="pick-group"
              >
                {[...new Set([0, 16, 32, 64, 128, form.group])]
                  .sort((a, b) => a - b)
                  .map((g) => (
                    <option key={g} value={g}>
                      {g === 0 ? 'per row' : g}
                    </option>
                  ))}
              </select>
            </label>
            <label className="check">
              <input type="checkbox" checked={form.sym} onChange={(e) => setForm({ sym: e.target.checked })} />
              sym
            </label>
          </>
        )}
        <button type="button" className="link-button" onClick={() => setTab('quantize')}>
          all options…
        </button>
      </div>
    </div>
  );
}
