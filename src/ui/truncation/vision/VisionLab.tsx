// The vision half of the truncation lab: an ONNX image classifier (the embedded ViT on 2,000
// held-out MNIST digits, or the user's) with every float weight cut to k fraction bits. The
// slider evaluates k in the vision worker — initializers rewritten, a new onnxruntime session —
// and the readout, the digit grid and the curve follow.
import { useEffect } from 'react';
import { useApp } from '../../../state/react.tsx';
import { visionKey, type VisionMode } from '../../../state/vision-slice.ts';
import { formatBytes } from '../../common/format.ts';
import { Segmented } from '../../common/Segmented.tsx';
import { Slider } from '../../common/Slider.tsx';
import { K_RANGE } from '../curve.tsx';
import { DigitGrid } from './DigitGrid.tsx';
import { VisionCurve } from './VisionCurve.tsx';
import { VisionDrop } from './VisionDrop.tsx';
import './vision.css';

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const MODES: { id: VisionMode; label: string }[] = [
  { id: 'truncate', label: 'Truncate' },
  { id: 'rne', label: 'Round to nearest' },
];

function ModelFacts() {
  const m = useApp((s) => s.vision.model);
  const status = useApp((s) => s.vision.status);
  const opening = useApp((s) => s.vision.opening);
  if (!m) {
    const text =
      status === 'opening'
        ? `Opening ${opening} in onnxruntime-web…`
        : status === 'error'
          ? 'The model could not be opened (the banner above says why). Drop another one below, or go back to the embedded ViT.'
          : 'Starting the vision worker…';
    return <p className={status === 'error' ? 'error-text' : 'muted'}>{text}</p>;
  }
  return (
    <dl className="facts compact" data-testid="vision-model">
      <dt>Model</dt>
      <dd className="strong">
        {m.name} <span className="muted">({formatBytes(m.modelBytes)})</span>
      </dd>
      <dt>Weights</dt>
      <dd>
        {m.weights.toLocaleString('en-US')} floats in {m.tensors} initializers
        {m.untouched ? ` (${m.untouched} op constants left as they are)` : ''}
      </dd>
      <dt>Input → output</dt>
      <dd>
        <code>{m.input}</code> → <code>{m.output}</code>
      </dd>
      <dt>Data</dt>
      <dd>
        {m.dataName}: {m.images.toLocaleString('en-US')} images, {m.height}×{m.width}
      </dd>
    </dl>
  );
}

function Readout() {
  const k = useApp((s) => s.vision.k);
  const mode = useApp((s) => s.vision.mode);
  const point = useApp((s) => s.vision.points[visionKey(s.vision.k, s.vision.mode)]);
  const fp32 = useApp((s) => s.vision.points.fp32);
  const shownKey = useApp((s) => s.vision.shown?.key);
  const evaluating = useApp((s) => s.vision.evaluating);
  const status = useApp((s) => s.vision.status);
  const done = point !== undefined && shownKey === visionKey(k, mode);
  const delta = point && fp32 ? (point.accuracy - fp32.accuracy) * 100 : null;
  return (
    <div
      className="vision-readout"
      data-testid="vision-readout"
      data-k={k}
      data-mode={mode}
      data-status={done ? 'done' : 'computing'}
      data-accuracy={done ? point.accuracy : ''}
      data-fp32={fp32?.accuracy ?? ''}
    >
      <div className="vision-acc">{done ? pct(point.accuracy) : status === 'ready' ? 'computing…' : '—'}</div>
      <div className="vision-acc-detail">
        {done ? (
          <>
            {point.correct.toLocaleString('en-US')} of {point.count.toLocaleString('en-US')} right at k = {k} (
            {mode === 'rne' ? 'round to nearest' : 'truncate'})
            {delta !== null && (
              <span className={delta < -0.5 ? 'error-text' : 'muted'}>
                {' '}
                · {delta >= 0 ? '+' : '−'}
                {Math.abs(delta).toFixed(2)} pt vs fp32
              </span>
            )}
            <span className="muted"> · {point.seconds.toFixed(1)} s</span>
          </>
        ) : evaluating ? (
          <span data-testid="vision-progress">
            {evaluating.k === null ? 'fp32 reference' : `Rewriting to k = ${evaluating.k} and running`}:{' '}
            {evaluating.done.toLocaleString('en-US')} / {evaluating.total.toLocaleString('en-US')} images
            <progress max={evaluating.total || 1} value={evaluating.done} />
          </span>
        ) : (
          <span className="muted">{status === 'error' ? 'no model open' : 'waiting for the model…'}</span>
        )}
      </div>
      <div className="muted small">
        fp32:{' '}
        {fp32 ? `${pct(fp32.accuracy)} (${fp32.correct} / ${fp32.count})` : status === 'error' ? '—' : 'computing…'}
      </div>
    </div>
  );
}

function Controls() {
  const k = useApp((s) => s.vision.k);
  const mode = useApp((s) => s.vision.mode);
  const ready = useApp((s) => s.vision.status === 'ready');
  const setBits = useApp((s) => s.setVisionBits);
  const setMode = useApp((s) => s.setVisionMode);
  return (
    <div className="vision-controls">
      <div className="slider-row">
        <label htmlFor="vision-bits">
          Fraction bits kept: <strong data-testid="vision-bits-value">{k}</strong> of 23
        </label>
        <Slider id="vision-bits" testId="vision-bits" value={k} {...K_RANGE} disabled={!ready} onChange={setBits} />
      </div>
      <p className="muted small">
        Each weight: 1 sign + 8 exponent + {k} fraction bits = {9 + k} of 32 bits.
      </p>
      <Segmented
        label="How the dropped bits are removed"
        options={MODES}
        value={mode}
        onChange={setMode}
        disabled={!ready}
        testIdPrefix="vision-mode-"
      />
    </div>
  );
}

function Grid() {
  const model = useApp((s) => s.vision.model);
  const shown = useApp((s) => s.vision.shown);
  const reference = useApp((s) => s.vision.reference);
  const key = useApp((s) => visionKey(s.vision.k, s.vision.mode));
  if (!model) return null;
  const pending = shown?.key !== key;
  const preds = shown?.predictions ?? null;
  const wrong = preds ? model.samples.indices.filter((idx, i) => preds[idx] !== model.samples.labels[i]).length : null;
  return (
    <section className="card vision-grid-card" aria-labelledby="vision-grid-title">
      <div className="card-head">
        <h2 id="vision-grid-title">Sample digits</h2>
        <span className="muted small">
          {shown ? `showing ${shown.key === 'fp32' ? 'fp32' : shown.key.replace(':', ' k=')}` : ''}
          {wrong !== null ? ` · ${wrong} of ${model.samples.indices.length} wrong` : ''}
        </span>
      </div>
      <p className="caption">
        The first {model.samples.indices.length} images; the label under each is the model's prediction — red when
        wrong, outlined when fp32 had it right.
      </p>
      <DigitGrid
        samples={model.samples}
        width={model.width}
        height={model.height}
        predictions={preds}
        reference={reference}
        pending={pending}
      />
    </section>
  );
}

function Why() {
  return (
    <section className="card vision-why" aria-labelledby="vision-why-title">
      <h2 id="vision-why-title">Why round-to-nearest never collapses</h2>
      <p>
        Both modes keep each weight's sign and its 8-bit exponent, so a weight never changes its order of magnitude:
        even at k = 0 it stays within a factor of two of its true value. <strong>Truncation</strong> always rounds the
        magnitude down — at k = 0 every weight shrinks by up to 50 % (about 28 % on average), all in the same direction,
        and the error compounds through the layers until the ViT guesses. <strong>Round to nearest</strong> turns each
        weight into the nearest power of two: errors of up to a third, but up as often as down, so they largely cancel
        and the accuracy barely moves.
      </p>
    </section>
  );
}

/** The panel (exported as `VisionLab`: the Truncation tab's slot, see src/ui/app/slots.tsx). */
export function VisionLab() {
  const open = useApp((s) => s.openVisionDefault);
  const status = useApp((s) => s.vision.status);
  const embedded = useApp((s) => s.vision.embedded);
  useEffect(() => {
    if (status === 'idle') void open();
  }, [status, open]);
  return (
    <div className="vision-lab" data-testid="vision-lab" data-status={status}>
      <div className="vision-cols">
        <div className="vision-col">
          <section className="card vision-main" aria-labelledby="vision-title">
            <div className="card-head">
              <h2 id="vision-title">Vision model · onnxruntime-web</h2>
            </div>
            <ModelFacts />
            <Controls />
            <Readout />
          </section>
          <Grid />
        </div>
        <div className="vision-col">
          <VisionCurve />
          <Why />
          <VisionDrop embedded={embedded} />
        </div>
      </div>
    </div>
  );
}
