// Which held variant the chat uses, and A/B mode: two variants, same prompt and seed, side by side.
import { BASE_VARIANT } from '../../state/lab-constants.ts';
import type { VariantInfo } from '../../state/lab-types.ts';
import { useApp, useShallow } from '../../state/react.tsx';
import { Check } from '../common/Check.tsx';
import { Field } from '../common/Field.tsx';
import { Select } from '../common/Select.tsx';

const variantChoices = (list: VariantInfo[]) =>
  list.map((v) => ({
    value: v.id,
    label: v.label + (v.id === BASE_VARIANT ? ' (loaded)' : ` · ${v.bitsPerWeight.toFixed(2)} b/w`),
  }));

export function ChatModeCard() {
  const list = useApp((s) => s.variants.list);
  const ab = useApp(useShallow((s) => ({ enabled: s.ab.enabled, a: s.ab.a, b: s.ab.b, streaming: s.ab.streaming })));
  const setAb = useApp((s) => s.setAb);
  const variant = useApp((s) => s.chat.variant);
  const setVariant = useApp((s) => s.setChatVariant);
  const busy = useApp((s) => s.chat.streaming !== null || s.ab.streaming);
  const setTab = useApp((s) => s.setTab);
  if (list.length === 0) return null;
  const choices = variantChoices(list);
  const select = (id: string) => ({ id, testId: id, choices, disabled: busy });
  return (
    <section className="card" aria-labelledby="mode-title" data-testid="chat-mode">
      <div className="card-head">
        <h2 id="mode-title">Variant</h2>
        <Check
          label="A/B"
          testId="ab-toggle"
          checked={ab.enabled}
          disabled={busy}
          onChange={(enabled) => setAb({ enabled })}
        />
      </div>
      {ab.enabled ? (
        <>
          {(['a', 'b'] as const).map((side) => (
            <Field key={side} inline id={`ab-${side}`} label={side.toUpperCase()}>
              <Select {...select(`ab-${side}`)} value={ab[side]} onChange={(id) => setAb({ [side]: id })} />
            </Field>
          ))}
          <p className="hint">
            Both run the same prompt with the same sampling settings and seed; the first token where they differ is
            marked.
          </p>
        </>
      ) : (
        <Field inline id="chat-variant" label="Chat with">
          <Select {...select('chat-variant')} value={variant} onChange={setVariant} />
        </Field>
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
