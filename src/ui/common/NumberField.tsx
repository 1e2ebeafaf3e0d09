// A number input that commits every parseable value to the store and shows the store's
// (clamped) value again on blur, so half-typed text ("0.") is never overwritten mid-edit.
import { useEffect, useState, type ReactNode } from 'react';
import { Field, labelled } from './Field.tsx';
import { Slider } from './Slider.tsx';

interface Props {
  id: string;
  value: number;
  onCommit: (v: number) => void;
  min: number;
  max: number;
  step: number;
  testId?: string; // the id by default
  disabled?: boolean;
  label?: ReactNode; // wraps the input in a <label> after this text
}

export function NumberField({ id, value, onCommit, min, max, step, testId = id, disabled, label }: Props) {
  const [draft, setDraft] = useState(String(value));
  const [editing, setEditing] = useState(false);
  useEffect(() => {
    if (!editing) setDraft(String(value));
  }, [value, editing]);
  return labelled(
    label,
    <input
      id={id}
      className="number"
      type="number"
      inputMode="decimal"
      data-testid={testId}
      value={draft}
      min={min}
      max={max}
      step={step}
      disabled={disabled}
      onFocus={() => setEditing(true)}
      onBlur={() => {
        setEditing(false);
        setDraft(String(value));
      }}
      onChange={(e) => {
        setDraft(e.target.value);
        const v = e.target.valueAsNumber;
        if (Number.isFinite(v)) onCommit(v);
      }}
    />,
  );
}

/**
 * A form row (`.field`): label, number input, optional hint. With `slider`, a range input
 * (aria-label "<label> slider") stands before the number in a `.slider-row`.
 */
export function NumberRow({
  label,
  hint,
  slider,
  ...field
}: Props & { label: string; hint?: ReactNode; slider?: boolean }) {
  const input = <NumberField {...field} />;
  return (
    <Field id={field.id} label={label} hint={hint}>
      {slider ? (
        <div className="slider-row">
          <Slider
            value={field.value}
            min={field.min}
            max={field.max}
            step={field.step}
            disabled={field.disabled}
            onChange={field.onCommit}
            label={`${label} slider`}
          />
          {input}
        </div>
      ) : (
        input
      )}
    </Field>
  );
}
