// Sampling settings: temperature, top-p, max tokens, seed. Values live in the store, which
// clamps them (SAMPLING_LIMITS); a turn records the exact settings it was sent with.
import { useApp, useShallow } from '../../state/react.tsx';
import { NumberField } from '../common/NumberField.tsx';

export function SamplingControls() {
  const sampling = useApp(useShallow((s) => s.chat.sampling));
  const set = useApp((s) => s.setSampling);
  const randomSeed = useApp((s) => s.settings.randomSeed);
  const setRandomSeed = useApp((s) => s.setRandomSeed);
  const seqLen = useApp((s) => s.model.info?.config.seqLen);
  const greedy = sampling.temperature === 0;
  return (
    <section className="card" aria-labelledby="sampling-title">
      <div className="card-head">
        <h2 id="sampling-title">Sampling</h2>
        {greedy && <span className="badge">greedy</span>}
      </div>
      <div className="field">
        <label htmlFor="temperature">Temperature</label>
        <div className="slider-row">
          <input
            type="range"
            min={0}
            max={2}
            step={0.05}
            value={sampling.temperature}
            aria-label="Temperature slider"
            onChange={(e) => set({ temperature: e.target.valueAsNumber })}
          />
          <NumberField
            id="temperature"
            testId="temperature"
            value={sampling.temperature}
            min={0}
            max={2}
            step={0.05}
            onCommit={(v) => set({ temperature: v })}
          />
        </div>
        <p className="hint">0 always picks the most likely token (deterministic).</p>
      </div>
      <div className="field">
        <label htmlFor="top-p">Top-p</label>
        <div className="slider-row">
          <input
            type="range"
            min={0.01}
            max={1}
            step={0.01}
            value={sampling.topP}
            aria-label="Top-p slider"
            disabled={greedy}
            onChange={(e) => set({ topP: e.target.valueAsNumber })}
          />
          <NumberField
            id="top-p"
            testId="top-p"
            value={sampling.topP}
            min={0.01}
            max={1}
            step={0.01}
            disabled={greedy}
            onCommit={(v) => set({ topP: v })}
          />
        </div>
      </div>
      <div className="field-grid">
        <div className="field">
          <label htmlFor="max-tokens">Max tokens</label>
          <NumberField
            id="max-tokens"
            testId="max-tokens"
            value={sampling.maxTokens}
            min={1}
            max={seqLen ?? 4096}
            step={1}
            onCommit={(v) => set({ maxTokens: v })}
          />
        </div>
        <div className="field">
          <label htmlFor="seed">Seed</label>
          <NumberField
            id="seed"
            testId="seed"
            value={sampling.seed}
            min={0}
            max={4294967295}
            step={1}
            disabled={greedy}
            onCommit={(v) => set({ seed: v })}
          />
        </div>
      </div>
      <label className="check">
        <input
          type="checkbox"
          data-testid="random-seed"
          checked={randomSeed}
          disabled={greedy}
          onChange={(e) => setRandomSeed(e.target.checked)}
        />
        New random seed for every generation
      </label>
    </section>
  );
}
