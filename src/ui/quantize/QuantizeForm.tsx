// The Quantize panel's form: method and its options (the CLI's set), Quantize and Cancel.
import { useMemo } from 'react';
import { QUANT_METHODS, needsCalibration, specLabel, validateSpec } from '../../state/lab-constants.ts';
import type { QuantMethod } from '../../state/lab-types.ts';
import { useApp } from '../../state/react.tsx';
import { NumberField } from '../common/NumberField.tsx';
import { METHOD_INFO, optionsFor } from './method-info.ts';

export function QuantizeForm() {
  const form = useApp((s) => s.variants.form);
  const set = useApp((s) => s.setQuantForm);
  const quantize = useApp((s) => s.quantize);
  const cancel = useApp((s) => s.cancelJob);
  const config = useApp((s) => s.model.info?.config);
  const ready = useApp((s) => s.model.status === 'ready');
  const running = useApp((s) => s.jobs.list.find((j) => j.kind === 'quantize' && j.status === 'running'));
  const opts = optionsFor(form.method);
  const problem = useMemo(() => {
    if (!config) return null;
    try {
      validateSpec(form, [config.dim, config.nHeads * config.headSize, config.hiddenDim]);
      return null;
    } catch (e) {
      return (e as Error).message.replace(/--([a-z-]+)/g, '$1');
    }
  }, [form, config]);

  return (
    <section className="card quant-form" aria-labelledby="quant-title" data-testid="quantize-form">
      <div className="card-head">
        <h2 id="quant-title">Quantize</h2>
        <span className="badge" data-testid="quant-label">
          {specLabel(form)}
        </span>
      </div>
      <div className="field">
        <label htmlFor="q-method">Method</label>
        <select
          id="q-method"
          data-testid="q-method"
          value={form.method}
          onChange={(e) => set({ method: e.target.value as QuantMethod })}
        >
          {QUANT_METHODS.map((m) => (
            <option key={m} value={m}>
              {METHOD_INFO[m].name}
            </option>
          ))}
        </select>
        <p className="hint">
          {METHOD_INFO[form.method].what}
          {needsCalibration(form.method) && ' Uses the embedded calibration text (tinystories-calib).'}
        </p>
      </div>
      <div className="field-grid">
        {opts.includes('bits') && (
          <div className="field">
            <label htmlFor="q-bits">Bits</label>
            <NumberField
              id="q-bits"
              testId="q-bits"
              value={form.bits}
              min={2}
              max={8}
              step={1}
              onCommit={(v) => set({ bits: Math.round(v) })}
            />
          </div>
        )}
        {opts.includes('group') && (
          <div className="field">
            <label htmlFor="q-group">Group (0 = per row)</label>
            <NumberField
              id="q-group"
              testId="q-group"
              value={form.group}
              min={0}
              max={1 << 16}
              step={16}
              onCommit={(v) => set({ group: Math.round(v) })}
            />
          </div>
        )}
        {opts.includes('block') && (
          <div className="field">
            <label htmlFor="q-block">Block size</label>
            <NumberField
              id="q-block"
              testId="q-block"
              value={form.group}
              min={1}
              max={1 << 16}
              step={16}
              onCommit={(v) => set({ group: Math.round(v) })}
            />
          </div>
        )}
        {opts.includes('damp') && (
          <div className="field">
            <label htmlFor="q-damp">Damp</label>
            <NumberField
              id="q-damp"
              testId="q-damp"
              value={form.damp}
              min={0.0001}
              max={0.5}
              step={0.005}
              onCommit={(v) => set({ damp: v })}
            />
          </div>
        )}
        {opts.includes('threshold') && (
          <div className="field">
            <label htmlFor="q-threshold">Outlier threshold α</label>
            <NumberField
              id="q-threshold"
              testId="q-threshold"
              value={form.threshold}
              min={0.1}
              max={1000}
              step={0.5}
              onCommit={(v) => set({ threshold: v })}
            />
          </div>
        )}
        {opts.includes('alpha') && (
          <div className="field">
            <label htmlFor="q-alpha">Migration strength α</label>
            <NumberField
              id="q-alpha"
              testId="q-alpha"
              value={form.alpha}
              min={0}
              max={1}
              step={0.05}
              onCommit={(v) => set({ alpha: v })}
            />
          </div>
        )}
        {opts.includes('mantissaBits') && (
          <div className="field">
            <label htmlFor="q-mant">Fraction bits kept</label>
            <NumberField
              id="q-mant"
              testId="q-mant"
              value={form.mantissaBits}
              min={0}
              max={23}
              step={1}
              onCommit={(v) => set({ mantissaBits: Math.round(v) })}
            />
          </div>
        )}
        {opts.includes('truncMode') && (
          <div className="field">
            <label htmlFor="q-round">Rounding</label>
            <select
              id="q-round"
              value={form.truncMode}
              onChange={(e) => set({ truncMode: e.target.value as 'truncate' | 'rne' })}
            >
              <option value="truncate">truncate (zero the bits)</option>
              <option value="rne">round to nearest even</option>
            </select>
          </div>
        )}
      </div>
      <div className="checks">
        {opts.includes('sym') && (
          <Check
            label="symmetric (no zero point)"
            checked={form.sym}
            onChange={(v) => set({ sym: v })}
            testId="q-sym"
          />
        )}
        {opts.includes('scaleType') && (
          <Check
            label="fp16 scales"
            checked={form.scaleType === 'f16'}
            onChange={(v) => set({ scaleType: v ? 'f16' : 'f32' })}
            testId="q-f16"
          />
        )}
        {opts.includes('actOrder') && (
          <Check
            label="act-order (columns by Hessian diagonal)"
            checked={form.actOrder}
            onChange={(v) => set({ actOrder: v })}
            testId="q-act-order"
          />
        )}
        {opts.includes('staticGroups') && (
          <Check
            label="static groups"
            checked={form.staticGroups}
            onChange={(v) => set({ staticGroups: v })}
            testId="q-static"
          />
        )}
        {opts.includes('doubleQuant') && (
          <Check
            label="double quantization of the absmax"
            checked={form.doubleQuant}
            onChange={(v) => set({ doubleQuant: v })}
            testId="q-dq"
          />
        )}
      </div>
      {problem && (
        <p className="note" data-testid="quant-problem">
          {problem}
        </p>
      )}
      <div className="form-buttons">
        <button
          type="button"
          className="button secondary"
          data-testid="quantize-cancel"
          disabled={!running}
          onClick={() => running && cancel(running.id)}
        >
          Cancel
        </button>
        <button
          type="button"
          className="button primary"
          data-testid="quantize-run"
          disabled={!ready || !!running || !!problem}
          onClick={() => void quantize()}
        >
          {running ? 'Quantizing…' : 'Quantize'}
        </button>
      </div>
    </section>
  );
}

function Check({
  label,
  checked,
  onChange,
  testId,
}: {
  label: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  testId: string;
}) {
  return (
    <label className="check">
      <input type="checkbox" data-testid={testId} checked={checked} onChange={(e) => onChange(e.target.checked)} />
      {label}
    </label>
  );
}
