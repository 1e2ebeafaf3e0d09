// A form row (`.field`): the label of control `id`, the control, and an optional hint under it.
// `inline` puts label and control on one line (`.field.inline`).
import type { ReactElement, ReactNode } from 'react';

interface Props {
  id: string;
  label: ReactNode;
  hint?: ReactNode;
  inline?: boolean;
  children: ReactNode;
}

export function Field({ id, label, hint, inline, children }: Props) {
  return (
    <div className={inline ? 'field inline' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && <p className="hint">{hint}</p>}
    </div>
  );
}

/** A chart or picker control after its text, inside one <label>; the bare control without a text. */
export function labelled(label: ReactNode, control: ReactElement): ReactElement {
  return label === undefined ? (
    control
  ) : (
    <label>
      {label}
      {control}
    </label>
  );
}
