// The plan of a chosen model before it loads: what it is (format, architecture, parameters,
// files, tokenizer, chat template), the memory it needs on this GPU at the chosen context
// (weights per format, KV cache, activations, total; largest buffer vs one binding), the verdict
// with its reasons, a context-length field, keep-in-browser, and Load / Cancel. Load is disabled
// while the plan says 'too-large' (the reasons say why) or while a new context is being planned.
import { useEffect, useState, type KeyboardEvent } from 'react';
import { keepable } from '../../state/pending-model.ts';
import { useApp } from '../../state/react.tsx';
import type { ModelPlan } from '../../state/types.ts';
import { formatBytes, formatCount } from '../common/format.ts';

const FORMATS: Record<ModelPlan['format'], string> = {
  llama2c: 'llama2.c checkpoint',
  gguf: 'GGUF',
  nibble: '.nibble variant',
  hf: 'Hugging Face (safetensors)',
};
const TOKENIZERS: Record<ModelPlan['tokenizer'], string> = {
  llama2c: 'llama2.c tokenizer.bin',
  hf: 'Hugging Face tokenizer.json',
  gguf: 'embedded in the GGUF',
  missing: 'missing',
};
const VERDICTS: Record<ModelPlan['memory']['verdict'], string> = {
  fits: 'Fits this GPU',
  'fits-split': 'Fits, with large weights split',
  'too-large': 'Too large for this GPU',
  'no-gpu': 'No WebGPU: runs on the CPU',
};

function ContextField({ plan }: { plan: ModelPlan }) {
  const value = useApp((s) => s.pending.contextLength ?? plan.memory.contextLength);
  const setContext = useApp((s) => s.setPendingContext);
  const busy = useApp((s) => s.pending.phase !== 'planned');
  const [draft, setDraft] = useState(String(value));
  useEffect(() => setDraft(String(value)), [value]);
  const commit = () => {
    const n = Number(draft);
    if (draft.trim() && Number.isFinite(n)) void setContext(n);
    else setDraft(String(value));
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      commit();
    }
  };
  const own = plan.config.seqLen;
  return (
    <div className="field">
      <label htmlFor="byom-context">Context length (positions)</label>
      <input
        id="byom-context"
        className="number"
        type="number"
        inputMode="numeric"
        min={1}
        max={own}
        step={1}
        value={draft}
        disabled={busy}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={onKey}
        data-testid="byom-context"
        aria-describedby="byom-context-hint"
      />
      <p className="hint" id="byom-context-hint">
        The model&apos;s own: {own.toLocaleString('en-US')}. The KV cache grows with it; Enter to plan again.
      </p>
    </div>
  );
}

function MemoryTable({ plan }: { plan: ModelPlan }) {
  const m = plan.memory;
  const layers = Math.max(1, plan.config.nLayers);
  const kvLayer = m.kvCacheBytes / (2 * layers);
  const cap = m.bindingCap;
  const over = (n: number) => (cap !== null && n > cap ? 'error-text' : undefined);
  return (
    <table className="mem-table" data-testid="plan-memory">
      <caption className="visually-hidden">GPU memory the model needs</caption>
      <tbody>
        {Object.entries(m.weightBytesByFormat).map(([fmt, bytes]) => (
          <tr key={fmt} data-testid="plan-weights" data-format={fmt} data-bytes={bytes}>
            <th scope="row">Weights ({fmt})</th>
            <td>{formatBytes(bytes)}</td>
          </tr>
        ))}
        <tr data-testid="plan-kv" data-bytes={m.kvCacheBytes}>
          <th scope="row">KV cache ({m.contextLength.toLocaleString('en-US')} positions)</th>
          <td>{formatBytes(m.kvCacheBytes)}</td>
        </tr>
        <tr data-testid="plan-activations" data-bytes={m.activationBytes}>
          <th scope="row">Activations</th>
          <td>{formatBytes(m.activationBytes)}</td>
        </tr>
        <tr className="total" data-testid="plan-total" data-bytes={m.totalBytes}>
          <th scope="row">Total on the GPU</th>
          <td>{formatBytes(m.totalBytes)}</td>
        </tr>
        <tr>
          <th scope="row">On the CPU first (f32)</th>
          <td>{formatBytes(m.cpuBytes)}</td>
        </tr>
        {cap !== null && (
          <>
            <tr className="sep" data-testid="plan-cap" data-bytes={cap}>
              <th scope="row" title="min(maxBufferSize, maxStorageBufferBindingSize)">
                One binding holds (this GPU)
              </th>
              <td>{formatBytes(cap)}</td>
            </tr>
            {m.largest && (
              <tr>
                <th scope="row">Largest weight ({m.largest.name})</th>
                <td className={over(m.largest.bytes)}>{formatBytes(m.largest.bytes)}</td>
              </tr>
            )}
            <tr>
              <th scope="row">KV buffer per layer</th>
              <td className={over(kvLayer)}>{formatBytes(kvLayer)}</td>
            </tr>
            {m.memoryHint && (
              <tr data-testid="plan-hint" data-bytes={m.memoryHint.bytes}>
                <th scope="row" title={`from ${m.memoryHint.source}`}>
                  Memory hint ({m.memoryHint.source})
                </th>
                <td className={m.totalBytes > m.memoryHint.bytes ? 'error-text' : undefined}>
                  {formatBytes(m.memoryHint.bytes)}
                </td>
              </tr>
            )}
            {m.maxContextForBinding !== null && (
              <tr>
                <th scope="row">Longest context one binding holds</th>
                <td>{m.maxContextForBinding.toLocaleString('en-US')}</td>
              </tr>
            )}
          </>
        )}
      </tbody>
    </table>
  );
}

function Verdict({ plan }: { plan: ModelPlan }) {
  const forcedCpu = useApp((s) => s.settings.backend === 'cpu');
  const m = plan.memory;
  const tone = m.verdict === 'too-large' ? 'error-text' : m.verdict === 'fits' ? 'yes' : 'warn-text';
  return (
    <div className="verdict" id="byom-verdict" data-testid="plan-verdict" data-verdict={m.verdict}>
      <p className={`strong ${tone}`}>{VERDICTS[m.verdict]}</p>
      {m.reasons.length > 0 && (
        <ul className="reasons small" data-testid="plan-reasons">
          {m.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
      {m.verdict === 'no-gpu' && (
        <p className="muted small">
          It will run on the CPU backend, with {formatBytes(m.cpuBytes)} of weights in memory.
        </p>
      )}
      {forcedCpu && m.verdict !== 'no-gpu' && (
        <p className="muted small">
          The backend is set to CPU (Model panel): it will run there; the GPU plan is for reference.
        </p>
      )}
    </div>
  );
}

function KeepOption({ plan }: { plan: ModelPlan }) {
  const source = useApp((s) => s.pending.source);
  const keep = useApp((s) => s.pending.keep);
  const setKeep = useApp((s) => s.setKeepPending);
  const canStore = useApp((s) => s.storage.status !== 'error' && s.storage.backend !== 'memory');
  if (!source || !canStore) return null;
  const k = keepable(source, plan);
  if (!k.ok) {
    return (
      <p className="muted small" data-testid="byom-keep-note">
        {k.reason}
      </p>
    );
  }
  return (
    <label className="check">
      <input type="checkbox" checked={keep} onChange={(e) => setKeep(e.target.checked)} data-testid="keep-model" />
      Keep in this browser (Stored models, works offline)
      {'convert' in k && (
        <span className="muted small" data-testid="byom-keep-note">
          {' '}
          — {k.note}
        </span>
      )}
    </label>
  );
}

export function PlanCard({ plan }: { plan: ModelPlan }) {
  const phase = useApp((s) => s.pending.phase);
  const load = useApp((s) => s.loadPendingModel);
  const cancel = useApp((s) => s.cancelPendingModel);
  const streaming = useApp((s) => s.chat.streaming !== null);
  const c = plan.config;
  const tooLarge = plan.memory.verdict === 'too-large';
  const replanning = phase === 'inspecting';
  const heads = c.nKvHeads === c.nHeads ? `${c.nHeads} heads` : `${c.nHeads} heads (${c.nKvHeads} kv)`;
  return (
    <div
      className={replanning ? 'plan stale' : 'plan'}
      data-testid="byom-plan"
      data-verdict={plan.memory.verdict}
      aria-busy={replanning}
    >
      <div className="plan-head">
        <span className="strong plan-name" data-testid="plan-name">
          {plan.name}
        </span>
        <span className="badge">
          {plan.format === 'hf' ? 'HF' : plan.format === 'llama2c' ? 'llama2.c' : plan.format.toUpperCase()}
        </span>
      </div>
      <dl className="facts compact">
        <dt>Format</dt>
        <dd>{FORMATS[plan.format]}</dd>
        <dt>Architecture</dt>
        <dd>{plan.architecture}</dd>
        <dt>Parameters</dt>
        <dd data-testid="plan-params" data-params={plan.params}>
          {formatCount(plan.params)}
        </dd>
        <dt>Shape</dt>
        <dd>
          dim {c.dim} · {c.nLayers} layers · {heads}
        </dd>
        <dt>Vocab · context</dt>
        <dd>
          {c.vocabSize.toLocaleString('en-US')} · {c.seqLen.toLocaleString('en-US')}
        </dd>
        <dt>Tokenizer</dt>
        <dd data-testid="plan-tokenizer">{TOKENIZERS[plan.tokenizer]}</dd>
        <dt>Chat template</dt>
        <dd data-testid="plan-chat-template">
          <span className={plan.chatTemplate ? 'yes' : 'no'}>{plan.chatTemplate ? 'yes' : 'no'}</span>
        </dd>
      </dl>
      <details className="plan-files" open={plan.files.length <= 6}>
        <summary>
          {plan.files.length} file{plan.files.length === 1 ? '' : 's'} · {formatBytes(plan.fileBytes)} to read
        </summary>
        <ul data-testid="plan-files">
          {plan.files.map((f) => (
            <li key={f.path}>
              <span className="file-path">{f.path}</span>
              <span className="muted">
                {f.role} · {formatBytes(f.bytes)}
              </span>
            </li>
          ))}
        </ul>
      </details>
      <div className="subhead">Memory</div>
      <MemoryTable plan={plan} />
      <Verdict plan={plan} />
      <ContextField plan={plan} />
      <KeepOption plan={plan} />
      <div className="plan-buttons">
        <button
          type="button"
          className="button primary"
          onClick={() => void load()}
          disabled={tooLarge || phase !== 'planned' || streaming}
          aria-describedby={tooLarge ? 'byom-verdict' : undefined}
          data-testid="byom-load"
        >
          {phase === 'loading' ? 'Loading…' : replanning ? 'Planning…' : 'Load'}
        </button>
        {phase !== 'loading' && (
          <button type="button" className="button secondary" onClick={cancel} data-testid="byom-cancel">
            Cancel
          </button>
        )}
      </div>
    </div>
  );
}
