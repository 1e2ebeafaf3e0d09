// A range input reporting numbers (`label` is its aria-label when no <label> names it).
interface Props {
  value: number;
  min: number;
  max: number;
  step: number;
  onChange: (v: number) => void;
  id?: string;
  label?: string;
  testId?: string;
  disabled?: boolean;
}

export function Slider({ value, min, max, step, onChange, id, label, testId, disabled }: Props) {
  return (
    <input
      id={id}
      type="range"
      min={min}
      max={max}
      step={step}
      value={value}
      aria-label={label}
      data-testid={testId}
      disabled={disabled}
      onChange={(e) => onChange(e.target.valueAsNumber)}
    />
  );
}
