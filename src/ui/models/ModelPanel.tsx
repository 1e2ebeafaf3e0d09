// The loaded model (shape, size, backend, load time) and the backend choice. The user's own
// models come in through the "Bring your own model" card (ByomCard.tsx) below it.
import { useApp } from '../../state/react.tsx';
import type { BackendPreference, ModelInfo } from '../../state/types.ts';
import { formatBytes, formatCount, formatMs } from '../common/format.ts';

const FORMAT_NAMES: Record<NonNullable<ModelInfo['format']>, string> = {
  llama2c: 'llama2.c',
  gguf: 'GGUF',
  nibble: '.nibble',
  hf: 'Hugging Face',
};

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
      {info.format && (
        <>
          <dt>Format</dt>
          <dd>
            {FORMAT_NAMES[info.format]}
            {info.architecture && ` · ${info.architecture}`}
            {info.chatTemplate && <span className="muted"> · chat template</span>}
          </dd>
        </>
      )}
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

export function ModelPanel() {
  const backend = useApp((s) => s.settings.backend);
  const setBackend = useApp((s) => s.setBackendPreference);
  const info = useApp((s) => s.model.info);
  const loadDefault = useApp((s) => s.loadDefaultModel);
  const custom = useApp((s) => s.model.source === 'files' || s.model.source === 'remote');
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
        <select
          id="backend-select"
          data-testid="backend-select"
          value={backend}
          disabled={busy}
          onChange={(e) => void setBackend(e.target.value as BackendPreference)}
        >
          <option value="auto">WebGPU when available</option>
          <option value="cpu">CPU (reference)</option>
        </select>
      </div>
      {custom && (
        <button type="button" className="link-button" onClick={() => void loadDefault()} disabled={busy}>
          Back to the embedded stories260K
        </button>
      )}
    </section>
  );
}
