// The loaded model (shape, size, backend, load time), the backend choice, and a picker for the
// user's own llama2.c checkpoint + tokenizer, kept in browser storage (OPFS) once it loads
// unless unticked. Bad files end in the error banner and are not kept.
import { useState, type FormEvent } from 'react';
import { useApp } from '../../state/react.tsx';
import type { BackendPreference } from '../../state/types.ts';
import { formatBytes, formatCount, formatMs } from '../common/format.ts';

function ModelFacts() {
  const info = useApp((s) => s.model.info);
  const loading = useApp((s) => s.model.loading);
  if (!info) return <p className="muted">{loading ? `Loading ${loading}…` : 'No model loaded.'}</p>;
  const c = info.config;
  const heads = c.nKvHeads === c.nHeads ? `${c.nHeads} heads` : `${c.nHeads} heads (${c.nKvHeads} kv)`;
  return (
    <dl className="facts" data-testid="model-info">
      <dt>Name</dt>
      <dd className="strong">{info.name}</dd>
      <dt>Parameters</dt>
      <dd>{formatCount(info.params)} (f32)</dd>
      <dt>Shape</dt>
      <dd>
        dim {c.dim} · {c.nLayers} layers · {heads} · ffn {c.hiddenDim}
      </dd>
      <dt>Vocab · context</dt>
      <dd>
        {c.vocabSize} tokens · {c.seqLen} positions
      </dd>
      <dt>Files</dt>
      <dd>
        {formatBytes(info.modelBytes)} + {formatBytes(info.tokenizerBytes)} tokenizer
      </dd>
      <dt>Ready in</dt>
      <dd data-testid="load-time">
        {formatMs(info.loadMs + info.fetchMs)}
        {info.fetchMs > 0 && <span className="muted"> (fetch {formatMs(info.fetchMs)})</span>}
        {info.gpuMs === null && info.backend === 'cpu' && ' on the CPU'}
        {info.gpuMs !== null && <span className="muted"> · WebGPU after {formatMs(info.gpuMs + info.fetchMs)}</span>}
      </dd>
    </dl>
  );
}

function FilePicker() {
  const load = useApp((s) => s.loadModelFiles);
  const loadAndKeep = useApp((s) => s.loadAndKeepModelFiles);
  const canKeep = useApp((s) => s.storage.status !== 'error' && s.storage.backend !== 'memory');
  const busy = useApp((s) => s.model.status === 'loading' || s.chat.streaming !== null);
  const [model, setModel] = useState<File | null>(null);
  const [tokenizer, setTokenizer] = useState<File | null>(null);
  const [keep, setKeep] = useState(true);
  // GGUF and .nibble checkpoints carry their tokenizer: the tokenizer file is then optional.
  const carries = model !== null && /\.(gguf|nibble)$/i.test(model.name);
  const tok = tokenizer ?? (carries ? new File([], 'carried-tokenizer') : null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!model || !tok) return;
    if (keep && canKeep) void loadAndKeep(model, tok, model.name || 'model.bin');
    else void load(model, tok);
  };
  return (
    <form className="file-picker" onSubmit={submit}>
      <div className="subhead">Load your own model (llama2.c, GGUF, .nibble)</div>
      <label className="file">
        <span>Checkpoint (.bin, .gguf, .nibble)</span>
        <input type="file" accept=".bin,.gguf,.nibble,application/octet-stream" data-testid="model-file" onChange={(e) => setModel(e.target.files?.[0] ?? null)} />
      </label>
      <label className="file">
        <span>Tokenizer (.bin){carries ? ' — optional' : ''}</span>
        <input type="file" accept=".bin,application/octet-stream" data-testid="tokenizer-file" onChange={(e) => setTokenizer(e.target.files?.[0] ?? null)} />
      </label>
      {canKeep && (
        <label className="check">
          <input type="checkbox" checked={keep} onChange={(e) => setKeep(e.target.checked)} data-testid="keep-model" />
          Keep in this browser (Stored models, works offline)
        </label>
      )}
      <button type="submit" className="button secondary full" data-testid="load-files" disabled={!model || !tok || busy}>
        Load files
      </button>
    </form>
  );
}

export function ModelPanel() {
  const backend = useApp((s) => s.settings.backend);
  const setBackend = useApp((s) => s.setBackendPreference);
  const info = useApp((s) => s.model.info);
  const loadDefault = useApp((s) => s.loadDefaultModel);
  const custom = useApp((s) => s.model.source === 'files');
  const busy = useApp((s) => s.model.status === 'loading');
  return (
    <section className="card" aria-labelledby="model-title">
      <div className="card-head">
        <h2 id="model-title">Model</h2>
        {info && <span className={`badge ${info.backend}`}>{info.backend === 'webgpu' ? 'WebGPU' : 'CPU'}</span>}
      </div>
      <ModelFacts />
      <div className="field inline">
        <label htmlFor="backend-select">Backend</label>
        <select id="backend-select" data-testid="backend-select" value={backend} disabled={busy} onChange={(e) => void setBackend(e.target.value as BackendPreference)}>
          <option value="auto">WebGPU when available</option>
          <option value="cpu">CPU (reference)</option>
        </select>
      </div>
      <FilePicker />
      {custom && (
        <button type="button" className="link-button" onClick={() => void loadDefault()} disabled={busy}>
          Back to the embedded stories260K
        </button>
      )}
    </section>
  );
}
