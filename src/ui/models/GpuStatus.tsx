// What the GPU is and can do, as the engine worker found it — or, without WebGPU, why not and
// that the chat runs on the CPU backend. data-backend: the backend of the loaded model.
import { useApp } from '../../state/react.tsx';
import type { GpuSummary } from '../../state/types.ts';
import { formatBytes } from '../common/format.ts';

const LIMIT_LABELS: Record<string, [label: string, bytes: boolean]> = {
  maxBufferSize: ['Max buffer', true],
  maxStorageBufferBindingSize: ['Max storage binding', true],
  maxStorageBuffersPerShaderStage: ['Storage buffers / stage', false],
  maxComputeWorkgroupStorageSize: ['Workgroup memory', true],
  maxComputeInvocationsPerWorkgroup: ['Invocations / workgroup', false],
  maxComputeWorkgroupsPerDimension: ['Workgroups / dimension', false],
};

const YesNo = ({ on }: { on: boolean }) => <span className={on ? 'yes' : 'no'}>{on ? 'yes' : 'no'}</span>;

function Adapter({ gpu }: { gpu: GpuSummary }) {
  const a = gpu.adapter;
  const rows: [string, string][] = [
    ['Vendor', a.vendor],
    ['Architecture', a.architecture],
    ['Device', a.device],
    ['Description', a.description],
  ];
  return (
    <>
      <dl className="facts" data-testid="gpu-adapter">
        {rows.map(([k, v]) => [
          <dt key={`${k}-t`}>{k}</dt>,
          <dd key={`${k}-d`}>{v || <span className="muted">not reported</span>}</dd>,
        ])}
        <dt>Kernels</dt>
        <dd>{gpu.kernels}</dd>
      </dl>
      <div className="subhead">Features</div>
      <dl className="facts compact">
        <dt>shader-f16</dt>
        <dd data-testid="feature-shader-f16">
          <YesNo on={gpu.features.shaderF16} />
        </dd>
        <dt>subgroups</dt>
        <dd data-testid="feature-subgroups">
          <YesNo on={gpu.features.subgroups} />
          {gpu.subgroupSizes && (
            <span className="muted">
              {' '}
              (size{' '}
              {gpu.subgroupSizes[0] === gpu.subgroupSizes[1]
                ? gpu.subgroupSizes[0]
                : `${gpu.subgroupSizes[0]}–${gpu.subgroupSizes[1]}`}
              )
            </span>
          )}
        </dd>
        <dt>timestamp-query</dt>
        <dd>
          <YesNo on={gpu.features.timestampQuery} />
        </dd>
      </dl>
      <div className="subhead">Limits</div>
      <dl className="facts compact">
        {Object.entries(gpu.limits).map(([k, v]) => {
          const [label, bytes] = LIMIT_LABELS[k] ?? [k, false];
          return [
            <dt key={`${k}-t`} title={k}>
              {label}
            </dt>,
            <dd key={`${k}-d`}>{bytes ? formatBytes(v) : v.toLocaleString('en-US')}</dd>,
          ];
        })}
      </dl>
    </>
  );
}

export function GpuStatus() {
  const engine = useApp((s) => s.model.engine);
  const backend = useApp((s) => s.model.info?.backend ?? s.model.engine?.backend ?? null);
  const forcedCpu = useApp((s) => s.settings.backend === 'cpu');
  let body;
  if (!engine || (!engine.gpu && engine.gpuChecking)) body = <p className="muted">Checking for WebGPU…</p>;
  else if (engine.gpu) {
    let note = null;
    if (backend === 'cpu' && engine.upgrading)
      note = 'Compiling the WebGPU kernels… the chat runs on the CPU backend meanwhile.';
    else if (backend === 'cpu' && engine.gpuUnavailable)
      note = `The chat runs on the CPU backend. ${engine.gpuUnavailable}`;
    else if (backend === 'cpu' && forcedCpu) note = 'The chat runs on the CPU backend, as chosen in the Model panel.';
    body = (
      <>
        {note && (
          <p className="note" data-testid="gpu-note">
            {note}
          </p>
        )}
        <Adapter gpu={engine.gpu} />
      </>
    );
  } else {
    body = (
      <div className="unavailable" data-testid="webgpu-unavailable">
        <p className="strong">WebGPU is unavailable — the chat runs on the CPU backend.</p>
        {engine.gpuUnavailable && <p className="muted small">{engine.gpuUnavailable}</p>}
      </div>
    );
  }
  return (
    <section
      className="card"
      aria-labelledby="gpu-title"
      data-testid="gpu-status"
      data-backend={backend ?? ''}
      data-webgpu={engine ? String(engine.gpu !== null) : ''}
    >
      <div className="card-head">
        <h2 id="gpu-title">GPU</h2>
        {engine && (engine.gpu || !engine.gpuChecking) && (
          <span className={`badge ${engine.gpu ? 'webgpu' : 'cpu'}`}>{engine.gpu ? 'WebGPU' : 'no WebGPU'}</span>
        )}
      </div>
      {body}
    </section>
  );
}
