// The "Text" control of a calibration or evaluation job: TinyStories / Paste / File, the window
// count and length (the model-size default until edited), and the line that says what a run
// will read (windows × length = tokens, ≈ share of the text, rough time) before it runs.
import type { DragEvent } from 'react';
import {
  estimateText,
  MAX_TEXT_BYTES,
  MAX_WINDOW_LENGTH,
  MAX_WINDOWS,
  textChars,
  windowsOf,
} from '../../state/lab-constants.ts';
import type { TextKind, TextPurpose } from '../../state/lab-types.ts';
import { useApp, useShallow } from '../../state/react.tsx';
import { NumberField } from '../common/NumberField.tsx';
import { Segmented } from '../common/Segmented.tsx';
import './text-control.css';

const KINDS: { id: TextKind; label: string }[] = [
  { id: 'tinystories', label: 'TinyStories' },
  { id: 'pasted', label: 'Paste' },
  { id: 'file', label: 'File' },
];

const EMBEDDED: Record<TextPurpose, string> = { calib: 'tinystories-calib', eval: 'tinystories-eval' };

const secondsText = (s: number) => (s < 1 ? '< 1 s' : s < 120 ? `≈ ${s.toFixed(0)} s` : `≈ ${(s / 60).toFixed(0)} min`);

interface Props {
  purpose: TextPurpose;
  disabled?: boolean;
  /** Test id of the window-count input (default `${purpose}-windows`). */
  windowsTestId?: string;
}

export function TextControl({ purpose, disabled, windowsTestId = `${purpose}-windows` }: Props) {
  const choice = useApp((s) => s.texts[purpose]);
  const w = useApp(useShallow((s) => windowsOf(s, purpose)));
  const info = useApp((s) => s.model.info);
  const setChoice = useApp((s) => s.setTextChoice);
  const chooseFile = useApp((s) => s.chooseTextFile);
  const id = `${purpose}-text`;
  const est = w && info ? estimateText(w, textChars(choice), info.params, info.backend, purpose) : null;
  const storiesModel = !info || /stories/i.test(info.name);

  const onDrop = (e: DragEvent) => {
    const f = e.dataTransfer.files[0];
    if (!f) return;
    e.preventDefault();
    void chooseFile(purpose, f);
  };

  return (
    <div className="text-control" data-testid={id} onDragOver={(e) => e.preventDefault()} onDrop={onDrop}>
      <Segmented
        label={purpose === 'calib' ? 'Calibration text' : 'Evaluation text'}
        options={KINDS}
        value={choice.kind}
        onChange={(kind) => setChoice(purpose, { kind })}
        testIdPrefix={`${id}-`}
        disabled={disabled}
      />
      {choice.kind === 'pasted' && (
        <textarea
          className="text-paste"
          aria-label={purpose === 'calib' ? 'Calibration text' : 'Evaluation text'}
          data-testid={`${id}-paste`}
          rows={4}
          maxLength={MAX_TEXT_BYTES}
          placeholder="Paste text that looks like what the model will read (one window is ~4 characters per token)"
          value={choice.pasted}
          disabled={disabled}
          onChange={(e) => setChoice(purpose, { pasted: e.target.value })}
        />
      )}
      {choice.kind === 'file' && (
        <label className="text-file">
          {choice.file ? `${choice.file.name} (${choice.file.text.length} characters) — ` : ''}
          drop a .txt file here or pick one (UTF-8, up to {MAX_TEXT_BYTES >> 20} MB)
          <input
            type="file"
            accept=".txt,text/plain"
            data-testid={`${id}-input`}
            disabled={disabled}
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void chooseFile(purpose, f);
              e.target.value = '';
            }}
          />
        </label>
      )}
      <div className="text-windows">
        <NumberField
          id={`${id}-windows`}
          testId={windowsTestId}
          label="Windows"
          value={w?.windows ?? 0}
          min={1}
          max={MAX_WINDOWS}
          step={1}
          disabled={disabled || !w}
          onCommit={(v) => setChoice(purpose, { windows: Math.round(v) })}
        />
        <NumberField
          id={`${id}-length`}
          testId={`${purpose}-window-len`}
          label="Length"
          value={w?.length ?? 0}
          min={2}
          max={Math.min(MAX_WINDOW_LENGTH, info?.config.seqLen ?? MAX_WINDOW_LENGTH)}
          step={16}
          disabled={disabled || !w}
          onCommit={(v) => setChoice(purpose, { length: Math.round(v) })}
        />
        {(choice.windows !== null || choice.length !== null) && (
          <button
            type="button"
            className="link-button"
            data-testid={`${id}-default`}
            disabled={disabled}
            onClick={() => setChoice(purpose, { windows: null, length: null })}
          >
            default for this model
          </button>
        )}
      </div>
      <p className="hint" data-testid={`${id}-estimate`}>
        {w && est
          ? `${w.windows} windows × ${w.length} tokens = ${est.tokens} tokens` +
            (choice.kind === 'tinystories'
              ? ` of ${EMBEDDED[purpose]} (at most what it holds)`
              : est.coverage !== null
                ? `, ≈ ${Math.round(100 * est.coverage)} % of the text`
                : '') +
            ` · rough time ${secondsText(est.seconds)} on the ${info!.backend === 'webgpu' ? 'GPU' : 'CPU'}`
          : 'Load a model to see the windows.'}
        {choice.kind === 'tinystories' &&
          !storiesModel &&
          ' TinyStories are children’s stories: paste or pick text like this model’s own for meaningful numbers.'}
      </p>
    </div>
  );
}
