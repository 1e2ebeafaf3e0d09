// The Quantize panel's form: method and its options (the CLI's set), Quantize and Cancel.
import { useMemo } from 'react';
import { QUANT_METHODS, needsCalibration, specLabel, validateSpec } from '../../state/lab-constants.ts';
import type { QuantMethod, QuantSpec, TruncMode } from '../../state/lab-types.ts';
import { useApp } from '../../state/react.tsx';
import { Check } from '../common/Check.tsx';
import { Field } from '../common/Field.tsx';
import { NumberRow } from '../common/NumberField.tsx';
import { Select } from '../common/Select.tsx';
import { METHOD_INFO, optionsFor } from './method-info.ts';
import { TextControl } from './TextControl.tsx';

const METHOD_CHOICES = QUANT_METHODS.map((m) => ({ value: m, label: METHOD_INFO[m].name }));

type TableQuant = NonNullable<QuantSpec['embed']>;

/** Embedding / classifier table formats; '' = the default by model size (the spec leaves it unset). */
const TABLE_CHOICES: { value: TableQuant | ''; label: string }[] = [
  { value: '', label: 'default (by model size)' },
  { value: 'keep', label: 'keep (as loaded)' },
  { value: 'q8', label: 'q8 per row' },
  { value: 'q4', label: 'q4 group 32' },
];
const tablePatch = (key: 'embed' | 'classifier', v: string): Partial<QuantSpec> => ({
  [key]: v === '' ? undefined : (v as TableQuant),
});

const ROUNDINGS = [
  { value: 'truncate', label: 'truncate (zero the bits)' },
  { value: 'rne', label: 'round to nearest even' },
];

type NumberKey = 'bits' | 'group' | 'damp' | 'threshold' | 'alpha' | 'mantissaBits';
type NumberOption = { opt: string; key: NumberKey; id: string; label: string; range: [number, number, number] };

/**
 * The number options in form order: `opt` as optionsFor names it, `key` the spec field it sets,
 * `range` [min, max, step]. Bits, group and fraction bits are whole numbers.
 */
const NUMBERS: NumberOption[] = [
  { opt: 'bits', key: 'bits', id: 'q-bits', label: 'Bits', range: [2, 8, 1] },
  { opt: 'group', key: 'group', id: 'q-group', label: 'Group (0 = per row)', range: [0, 1 << 16, 16] },
  { opt: 'block', key: 'group', id: 'q-block', label: 'Block size', range: [1, 1 << 16, 16] },
  { opt: 'damp', key: 'damp', id: 'q-damp', label: 'Damp', range: [0.0001, 0.5, 0.005] },
  { opt: 'threshold', key: 'threshold', id: 'q-threshold', label: 'Outlier threshold α', range: [0.1, 1000, 0.5] },
  { opt: 'alpha', key: 'alpha', id: 'q-alpha', label: 'Migration strength α', range: [0, 1, 0.05] },
  { opt: 'mantissaBits', key: 'mantissaBits', id: 'q-mant', label: 'Fraction bits kept', range: [0, 23, 1] },
];
const WHOLE = new Set<NumberKey>(['bits', 'group', 'mantissaBits']);

type CheckOption = 'sym' | 'scaleType' | 'actOrder' | 'staticGroups' | 'doubleQuant';

/** The checkbox options in form order; scaleType is checked for fp16 scales. */
const CHECKS: { opt: CheckOption; label: string; testId: string }[] = [
  { opt: 'sym', label: 'symmetric (no zero point)', testId: 'q-sym' },
  { opt: 'scaleType', label: 'fp16 scales', testId: 'q-f16' },
  { opt: 'actOrder', label: 'act-order (columns by Hessian diagonal)', testId: 'q-act-order' },
  { opt: 'staticGroups', label: 'static groups', testId: 'q-static' },
  { opt: 'doubleQuant', label: 'double quantization of the absmax', testId: 'q-dq' },
];
const checked = (f: QuantSpec, opt: CheckOption): boolean => (opt === 'scaleType' ? f.scaleType === 'f16' : f[opt]);
const checkPatch = (opt: CheckOption, v: boolean): Partial<QuantSpec> =>
  opt === 'scaleType' ? { scaleType: v ? 'f16' : 'f32' } : { [opt]: v };

export function QuantizeForm() {
  const form = useApp((s) => s.variants.form);
  const set = useApp((s) => s.setQuantForm);
  const quantize = useApp((s) => s.quantize);
  const cancel = useApp((s) => s.cancelJob);
  const config = useApp((s) => s.model.info?.config);
  const ready = useApp((s) => s.model.status === 'ready');
  const running = useApp((s) => s.jobs.list.find((j) => j.kind === 'quantize' && j.status === 'running'));
  const opts = optionsFor(form.method);
  const tied = config?.sharedClassifier ?? false;
  const hint = (
    <>
      {METHOD_INFO[form.method].what}
      {needsCalibration(form.method) && ' Calibrated on the text below.'}
      {form.method === 'llmint8' && ' Outlier statistics come from the calibration text below.'}
    </>
  );
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
      <Field id="q-method" label="Method" hint={hint}>
        <Select
          id="q-method"
          testId="q-method"
          value={form.method}
          choices={METHOD_CHOICES}
          onChange={(m) => set({ method: m as QuantMethod })}
        />
      </Field>
      <div className="field-grid">
        {NUMBERS.filter((n) => opts.includes(n.opt)).map(({ opt, key, id, label, range: [min, max, step] }) => (
          <NumberRow
            key={opt}
            id={id}
            label={label}
            value={form[key]}
            min={min}
            max={max}
            step={step}
            onCommit={(v) => set({ [key]: WHOLE.has(key) ? Math.round(v) : v })}
          />
        ))}
        <Field id="q-embed" label="Embedding">
          <Select
            id="q-embed"
            testId="q-embed"
            value={form.embed ?? ''}
            choices={TABLE_CHOICES}
            onChange={(v) => set({ ...tablePatch('embed', v), ...(tied ? tablePatch('classifier', v) : {}) })}
          />
        </Field>
        <Field
          id="q-classifier"
          label="Classifier"
          hint={tied ? 'Tied: the classifier is the embedding table.' : undefined}
        >
          <Select
            id="q-classifier"
            testId="q-classifier"
            value={(tied ? form.embed : form.classifier) ?? ''}
            choices={TABLE_CHOICES}
            disabled={tied}
            onChange={(v) => set(tablePatch('classifier', v))}
          />
        </Field>
        {opts.includes('truncMode') && (
          <Field id="q-round" label="Rounding">
            <Select
              id="q-round"
              value={form.truncMode}
              choices={ROUNDINGS}
              onChange={(m) => set({ truncMode: m as TruncMode })}
            />
          </Field>
        )}
      </div>
      <div className="checks">
        {CHECKS.filter((c) => opts.includes(c.opt)).map((c) => (
          <Check
            key={c.opt}
            label={c.label}
            testId={c.testId}
            checked={checked(form, c.opt)}
            onChange={(v) => set(checkPatch(c.opt, v))}
          />
        ))}
      </div>
      {(needsCalibration(form.method) || form.method === 'llmint8') && (
        <div className="field">
          <span className="label">Calibration text</span>
          <TextControl purpose="calib" disabled={!!running} />
        </div>
      )}
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
