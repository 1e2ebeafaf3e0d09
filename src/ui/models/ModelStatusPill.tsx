// Header pill: what is loaded and on which backend (or that a load is running / failed).
import { useApp } from '../../state/react.tsx';

export function ModelStatusPill() {
  const status = useApp((s) => s.model.status);
  const loading = useApp((s) => s.model.loading);
  const info = useApp((s) => s.model.info);
  const upgrading = useApp((s) => s.model.engine?.upgrading ?? false);
  let text: string;
  if (loading) text = `Loading ${loading}…`;
  else if (info)
    text = `${info.name} · ${info.backend === 'webgpu' ? 'WebGPU' : upgrading ? 'CPU, WebGPU warming up…' : 'CPU'}`;
  else if (status === 'error') text = 'No model loaded';
  else text = 'Starting…';
  const tone = loading || status === 'idle' ? 'busy' : info ? 'ok' : 'bad';
  return (
    <div className={`pill ${tone}`} data-testid="model-status" data-status={loading ? 'loading' : status}>
      <span className="dot" aria-hidden />
      {text}
    </div>
  );
}
