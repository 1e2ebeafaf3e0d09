// Sampling settings: temperature, top-p, max tokens, seed. Values live in the store, which
// clamps them (SAMPLING_LIMITS); a turn records the exact settings it was sent with.
import { SAMPLING_LIMITS } from '../../state/chat-slice.ts';
import { useApp, useShallow } from '../../state/react.tsx';
import { Check } from '../common/Check.tsx';
import { NumberRow } from '../common/NumberField.tsx';

type Key = keyof typeof SAMPLING_LIMITS;

/** One row per setting; `greedyOff`: meaningless (disabled) at temperature 0. */
const ROWS: {
  key: Key;
  id: string;
  label: string;
  step: number;
  slider?: boolean;
  greedyOff?: boolean;
  hint?: string;
}[] = [
  {
    key: 'temperature',
    id: 'temperature',
    label: 'Temperature',
    step: 0.05,
    slider: true,
    hint: '0 always picks the most likely token (deterministic).',
  },
  { key: 'topP', id: 'top-p', label: 'Top-p', step: 0.01, slider: true, greedyOff: true },
  { key: 'maxTokens', id: 'max-tokens', label: 'Max tokens', step: 1 },
  { key: 'seed', id: 'seed', label: 'Seed', step: 1, greedyOff: true },
];

export function SamplingControls() {
  const sampling = useApp(useShallow((s) => s.chat.sampling));
  const set = useApp((s) => s.setSampling);
  const randomSeed = useApp((s) => s.settings.randomSeed);
  const setRandomSeed = useApp((s) => s.setRandomSeed);
  const seqLen = useApp((s) => s.model.info?.config.seqLen);
  const greedy = sampling.temperature === 0;
  const row = ({ key, greedyOff, ...r }: (typeof ROWS)[number]) => (
    <NumberRow
      key={key}
      {...r}
      value={sampling[key]}
      min={SAMPLING_LIMITS[key].min}
      max={key === 'maxTokens' ? (seqLen ?? 4096) : SAMPLING_LIMITS[key].max}
      disabled={greedyOff && greedy}
      onCommit={(v) => set({ [key]: v })}
    />
  );
  return (
    <section className="card" aria-labelledby="sampling-title">
      <div className="card-head">
        <h2 id="sampling-title">Sampling</h2>
        {greedy && <span className="badge">greedy</span>}
      </div>
      {ROWS.slice(0, 2).map(row)}
      <div className="field-grid">{ROWS.slice(2).map(row)}</div>
      <Check
        label="New random seed for every generation"
        testId="random-seed"
        checked={randomSeed}
        disabled={greedy}
        onChange={setRandomSeed}
      />
    </section>
  );
}
