// Which held variant the chat uses, and A/B mode: two variants, same prompt and seed, side by side.
import { BASE_VARIANT } from '../../state/lab-constants.ts';
import type { VariantInfo } from '../../state/lab-types.ts';
import { useApp, useShallow } from '../../state/react.tsx';

function VariantSelect({
  value,
  onChange,
  testId,
  list,
  disabled,
  label,
}: {
  value: string;
  onChange: (id: string) => void;
  testId: string;
  list: VariantInfo[];
  disabled?: boolean;
  label: string;
}) {
  return (
    <div className="field inline">
      <label htmlFor={testId}>{label}</label>
      <select
        id={testId}
        data-testid={testId}
        value={value}
        disabled={disabled}
        onChange={(e) => onChange(e.target.value)}
      >
        {list.map((v) => (
          <option key={v.id} value={v.id}>
            {v.label}
            {v.id === BASE_VARIANT ? ' (loaded)' : ` · ${v.bitsPerWeight.toFixed(2)} b/w`}
          </option>
        ))}
      </select>
    </div>
  );
}

export function ChatModeCard() {
  const list = useApp((s) => s.variants.list);
  const ab = useApp(useShallow((s) => ({ enabled: s.ab.enabled, a: s.ab.a, b: s.ab.b, streaming: s.ab.streaming })));
  const setAb = useApp((s) => s.setAb);
  const variant = useApp((s) => s.chat.variant);
  const setVariant = useApp((s) => s.setChatVariant);
  const busy = useApp((s) => s.chat.streaming !== null || s.ab.streaming);
  const setTab = useApp((s) => s.setTab);
  if (list.length === 0) return null;
  return (
    <section className="card" aria-labelledby="mode-title" data-testid="chat-mode">
      <div className="card-head">
        <h2 id="mode-title">Variant</h2>
        <label className="check">
          <input
            type="checkbox"
            data-testid="ab-toggle"
            checked={ab.enabled}
            disabled={busy}
            onChange={(e) => setAb({ enabled: e.target.checked })}
          />
          A/B
        </label>
      </div>
      {ab.enabled ? (
        <>
          <VariantSelect
            label="A"
            testId="ab-a"
            value={ab.a}
            list={list}
            disabled={busy}
            onChange={(a) => setAb({ a })}
          />
          <VariantSelect
            label="B"
            testId="ab-b"
            value={ab.b}
            list={list}
            disabled={busy}
            onChange={(b) => setAb({ b })}
          />
          <p className="hint">
            Both run the same prompt with the same sampling settings and seed; the first token where they differ is
            marked.
          </p>
        </>
      ) : (
        <VariantSelect
          label="Chat with"
          testId="chat-variant"
          value={variant}
          list={list}
          disabled={busy}
          onChange={setVariant}
        />
      )}
      {list.length === 1 && (
        <p className="hint">
          Only the loaded fp32 model is held.{' '}
          <button type="button" className="link-button inline" onClick={() => setTab('quantize')}>
            Quantize a variant
          </button>{' '}
          to compare.
        </p>
      )}
    </section>
  );
}
