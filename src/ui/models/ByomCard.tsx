// "Bring your own model": choose files, a folder or a URL (SourcePicker) → the model is
// inspected (progress) → its plan (PlanCard) → Load (progress with bytes, MB/s, ETA, Cancel).
// Failures reach the error banner with their typed code; the loaded model stays usable.
import { useApp } from '../../state/react.tsx';
import { formatBytes, formatMs } from '../common/format.ts';
import { formatBytesOf, formatRate, percentOf } from './format-progress.ts';
import { LoadProgressBar } from './LoadProgressBar.tsx';
import { PlanCard } from './PlanCard.tsx';
import { SourcePicker } from './SourcePicker.tsx';
import './byom.css';

function ChosenSource() {
  const source = useApp((s) => s.pending.source);
  if (!source) return null;
  const bytes = source.files.reduce((n, f) => n + f.bytes, 0);
  return (
    <p className="small byom-source" data-testid="byom-source" data-kind={source.kind}>
      {source.kind === 'remote' ? (
        <>
          <span className="strong">{source.ref}</span> <span className="muted">· downloading from {source.from}</span>
        </>
      ) : (
        <>
          <span className="strong">{source.name}</span>{' '}
          <span className="muted">
            · {source.files.length} file{source.files.length === 1 ? '' : 's'}, {formatBytes(bytes)}
          </span>
        </>
      )}
    </p>
  );
}

/** After a load: what was read and how fast (the engine's last progress report, as it was). */
function Finished() {
  const finished = useApp((s) =>
    s.pending.phase === 'idle' && s.model.info?.name === s.pending.finished?.name ? s.pending.finished : null,
  );
  if (!finished) return null;
  const p = finished.progress;
  const pct = p ? percentOf(p.bytesDone, p.bytesTotal) : null;
  return (
    <p
      className="muted small byom-finished"
      data-testid="byom-finished"
      data-percent={pct ?? ''}
      data-done={p?.bytesDone ?? ''}
      data-total={p?.bytesTotal ?? ''}
    >
      Loaded <span className="strong">{finished.name}</span> in {formatMs(finished.ms)}
      {p &&
        ` · ${formatBytesOf(p.bytesDone, p.bytesTotal)}${pct !== null && p.bytesTotal > 0 ? ` (${pct} %)` : ''} · ${formatRate(p.bytesDone / Math.max(finished.ms / 1000, 1e-3))}`}
    </p>
  );
}

export function ByomCard() {
  const phase = useApp((s) => s.pending.phase);
  const plan = useApp((s) => s.pending.plan);
  const busy = useApp((s) => s.model.status === 'loading');
  return (
    <section className="card byom" aria-labelledby="byom-title" data-testid="byom" data-phase={phase}>
      <div className="card-head">
        <h2 id="byom-title">Bring your own model</h2>
      </div>
      {phase === 'idle' ? <SourcePicker disabled={busy} /> : <ChosenSource />}
      <Finished />
      <LoadProgressBar />
      {plan && <PlanCard plan={plan} />}
    </section>
  );
}
