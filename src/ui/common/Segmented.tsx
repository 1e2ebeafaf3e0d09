// A row of mutually exclusive buttons: a radio group (`.segmented`, buttons `.seg`) or, with
// `tabs`, the page's tab list (`<nav class="tabs">`, buttons `.tab` with aria-selected).
import type { ReactNode } from 'react';

interface Props<T extends string> {
  label: string; // the group's aria-label
  options: { id: T; label: ReactNode }[];
  value: T;
  onChange: (id: T) => void;
  testIdPrefix: string; // each button is `${testIdPrefix}${id}`
  disabled?: boolean;
  tabs?: boolean;
}

export function Segmented<T extends string>(p: Props<T>) {
  const item = p.tabs ? 'tab' : 'seg';
  const buttons = p.options.map((o) => (
    <button
      key={o.id}
      type="button"
      role={p.tabs ? 'tab' : 'radio'}
      aria-checked={p.tabs ? undefined : p.value === o.id}
      aria-selected={p.tabs ? p.value === o.id : undefined}
      className={p.value === o.id ? `${item} active` : item}
      onClick={() => p.onChange(o.id)}
      disabled={p.disabled}
      data-testid={`${p.testIdPrefix}${o.id}`}
    >
      {o.label}
    </button>
  ));
  return p.tabs ? (
    <nav className="tabs" role="tablist" aria-label={p.label}>
      {buttons}
    </nav>
  ) : (
    <div className="segmented" role="radiogroup" aria-label={p.label}>
      {buttons}
    </div>
  );
}
