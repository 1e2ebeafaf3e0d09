// Which tensor the weight charts read (layer × linear) and which quantizer they draw — the same
// options as the Quantize form, so the grid is the one a Quantize press would use.
import { LINEAR_NAMES, specLabel } from '../../state/lab-constants.ts';
import type { LinearName } from '../../state/lab-types.ts';
import { useApp, useShallow } from '../../state/react.tsx';
import { Check } from '../common/Check.tsx';
import { Select, indexChoices, type Choice } from '../common/Select.tsx';

export const LINEAR_LABEL: Record<LinearName, string> = {
  wq: 'wq (query)',
  wk: 'wk (key)',
  wv: 'wv (value)',
  wo: 'wo (output)',
  w1: 'w1 (gate)',
  w2: 'w2 (down)',
  w3: 'w3 (up)',
};

const LINEAR_CHOICES: Choice[] = LINEAR_NAMES.map((n) => ({ value: n, label: LINEAR_LABEL[n] }));
const BITS_CHOICES: Choice[] = [2, 3, 4, 5, 6, 7, 8].map((b) => ({ value: b, label: b }));
/** The usual group sizes plus the form's own, ascending; 0 is per row. */
const groupChoices = (current: number): Choice[] =>
  [...new Set([0, 16, 32, 64, 128, current])]
    .sort((a, b) => a - b)
    .map((g) => ({ value: g, label: g === 0 ? 'per row' : g }));

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
        <Select
          label="Layer"
          testId="pick-layer"
          value={tensor.layer}
          choices={indexChoices(nLayers)}
          onChange={(v) => select({ layer: Number(v) })}
        />
        <Select
          label="Linear"
          testId="pick-linear"
          value={tensor.linear}
          choices={LINEAR_CHOICES}
          onChange={(v) => select({ linear: v as LinearName })}
        />
        <span className="picker-sep" aria-hidden />
        <span className="picker-quantizer">
          Quantizer <b data-testid="chart-quantizer">{specLabel(form)}</b>
        </span>
        {uniform && (
          <>
            <Select
              label="Bits"
              testId="pick-bits"
              value={form.bits}
              choices={BITS_CHOICES}
              onChange={(v) => setForm({ bits: Number(v) })}
            />
            <Select
              label="Group"
              testId="pick-group"
              value={form.group}
              choices={groupChoices(form.group)}
              onChange={(v) => setForm({ group: Number(v) })}
            />
            <Check label="sym" checked={form.sym} onChange={(sym) => setForm({ sym })} />
          </>
        )}
        <button type="button" className="link-button" onClick={() => setTab('quantize')}>
          all options…
        </button>
      </div>
    </div>
  );
}
