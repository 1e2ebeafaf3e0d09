// A number input that commits every parseable value to the store and shows the store's
// (clamped) value again on blur, so half-typed text ("0.") is never overwritten mid-edit.
import { useEffect, useState } from 'react';

interface Props {
  id: string;
  value: number;
  onCommit: (v: number) => void;
  min: number;
  max: number;
  step: number;
  testId: string;
  disabled?: boolean;
}

export function NumberField({ id, value, onCommit, min, max, step, testId, disabled }: Props) {
  const [draft, setDraft] = useState(String(value));
  const [editing, setEditing] = useState(false);
  useEffect(() => {
    if (!editing) setDraft(String(value));
  }, [value, editing]);
  return (
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
    />
  );
}
