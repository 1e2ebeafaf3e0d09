// A running inspect or load: what is being read, bytes done / total, percent, MB/s and ETA, and
// Cancel. The line is a polite live region, so screen readers hear the phase changes.
import { useApp } from '../../state/react.tsx';
import type { ProgressView } from '../../state/types.ts';
import { ProgressBar } from '../common/ProgressBar.tsx';
import { formatBytesOf, formatEta, formatRate, percentOf } from './format-progress.ts';

const PHASES: Record<ProgressView['phase'], string> = {
  headers: 'Reading headers',
  weights: 'Reading weights',
  tokenizer: 'Reading the tokenizer',
  gpu: 'Uploading to the GPU',
};

export function LoadProgressBar() {
  const progress = useApp((s) => s.pending.progress);
  const cancel = useApp((s) => s.cancelPendingModel);
  if (!progress) return null;
  const { op, phase, file, bytesDone, bytesTotal, etaMs, bytesPerSecond } = progress;
  const pct = percentOf(bytesDone, bytesTotal);
  const title = op === 'inspect' ? 'Inspecting' : 'Loading';
  return (
    <div
      className="byom-progress"
      data-testid="byom-progress"
      data-op={op}
      data-phase={phase}
      data-percent={pct}
      data-done={bytesDone}
      data-total={bytesTotal}
    >
      <div className="job-head">
        <span className="job-label">
          {title} · {PHASES[phase]}
          {file && <span className="muted"> · {file}</span>}
        </span>
        <button type="button" className="mini-button" onClick={cancel} data-testid="byom-progress-cancel">
          Cancel
        </button>
      </div>
      <ProgressBar value={pct} label={`${title} the model`} />
      <div className="job-stage muted" aria-live="polite" data-testid="byom-progress-line">
        {formatBytesOf(bytesDone, bytesTotal)}
        {bytesTotal > 0 && ` · ${pct} %`} · {formatRate(bytesPerSecond)} · ETA {formatEta(etaMs)}
      </div>
    </div>
  );
}
