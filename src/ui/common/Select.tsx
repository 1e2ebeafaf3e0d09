// A <select> over a list of choices. onChange gets the option's value as the DOM gives it (a
// string): the caller turns it back into a number or a union member.
import type { ReactNode } from 'react';
import { labelled } from './Field.tsx';

export interface Choice {
  value: string | number;
  label: ReactNode;
}

interface Props {
  value: string | number;
  choices: Choice[];
  onChange: (value: string) => void;
  id?: string;
  testId?: string;
  disabled?: boolean;
  label?: ReactNode; // wraps the select in a <label> after this text
}

export function Select({ value, choices, onChange, id, testId, disabled, label }: Props) {
  return labelled(
    label,
    <select id={id} data-testid={testId} value={value} disabled={disabled} onChange={(e) => onChange(e.target.value)}>
      {choices.map((c) => (
        <option key={c.value} value={c.value}>
          {c.label}
        </option>
      ))}
    </select>,
  );
}

/** Choices 0 … n−1, each labelled with its number (layers). */
export const indexChoices = (n: number): Choice[] => Array.from({ length: n }, (_, i) => ({ value: i, label: i }));
