// Texts slice: the calibration text (GPTQ, SmoothQuant, LLM.int8 statistics) and the evaluation
// text (perplexity, drift) the user chose — the embedded TinyStories, pasted text or a .txt file —
// with their window count and length (null = the model-size default of defaultWindows). Jobs
// send `textRequest(...)`: the choice resolved against the loaded model. Not persisted (a text
// can be 16 MB); the evaluation window count travels in the URL hash ('ew').
import { NibbleError } from '../core/errors.ts';
import {
  checkText,
  decodeTextFile,
  defaultWindows,
  MAX_TEXT_BYTES,
  PURPOSE_NAME,
  type TextChoice,
  type TextPurpose,
  type TextSource,
  type WindowOptions,
} from '../core/text-source.ts';
import type { TextChoiceState, TextsSlice } from './lab-types.ts';
import type { TextSources } from '../worker/engine-host/lab-protocol.ts';
import type { AppState, Slice } from './types.ts';

export const initialTextChoice = (): TextChoiceState => ({
  kind: 'tinystories',
  pasted: '',
  file: null,
  windows: null,
  length: null,
});

/** The model-size default, or null with no model loaded. */
export function defaultWindowsOf(s: AppState): WindowOptions | null {
  const info = s.model.info;
  return info ? defaultWindows(info.params, info.config.seqLen) : null;
}

/** The windows a job will use: the user's numbers over the default (null with no model). */
export function windowsOf(s: AppState, purpose: TextPurpose): WindowOptions | null {
  const d = defaultWindowsOf(s);
  if (!d) return null;
  const c = s.texts[purpose];
  return { windows: c.windows ?? d.windows, length: c.length ?? Math.min(d.length, s.model.info!.config.seqLen) };
}

/** The chosen text's characters, when the page holds it (pasted, file); null for the embedded text. */
export function textChars(c: TextChoiceState): number | null {
  return c.kind === 'pasted' ? c.pasted.length : c.kind === 'file' ? (c.file?.text.length ?? null) : null;
}

/** The source of a choice; a NibbleError when the pasted text or file is missing. */
function sourceOf(c: TextChoiceState, purpose: TextPurpose, urls: TextSources): TextSource {
  const what = `the ${PURPOSE_NAME[purpose]} text`;
  if (c.kind === 'tinystories') {
    const url = urls[purpose];
    return typeof url === 'string' ? { kind: 'embedded', url } : url.source;
  }
  if (c.kind === 'pasted') {
    checkText(c.pasted, `${what} (pasted)`);
    return { kind: 'pasted', text: c.pasted };
  }
  if (!c.file) throw new NibbleError('bad-argument', `no file chosen for ${what}: drop or pick a .txt file`);
  return { kind: 'file', name: c.file.name, text: c.file.text };
}

/** What a job sends for `purpose`: the chosen text (`urls`: the embedded ones) and its windows. Throws on a missing/blank text. */
export function textRequest(urls: TextSources, s: AppState, purpose: TextPurpose): TextChoice {
  const w = windowsOf(s, purpose);
  if (!w) throw new NibbleError('bad-argument', 'no model is loaded yet');
  return { source: sourceOf(s.texts[purpose], purpose, urls), ...w };
}

export const createTextsSlice: Slice<TextsSlice> = () => (set, get) => {
  /** Drift results were computed on the old evaluation text: drop them (running ones finish). */
  const dropDrift = (s: AppState) => ({
    charts: {
      ...s.charts,
      drift: Object.fromEntries(Object.entries(s.charts.drift).filter(([, d]) => d.status === 'loading')),
    },
  });
  const patchChoice = (purpose: TextPurpose, patch: Partial<TextChoiceState>) =>
    set((s) => ({
      texts: { ...s.texts, [purpose]: { ...s.texts[purpose], ...patch } },
      ...(purpose === 'eval' ? dropDrift(s) : {}),
    }));

  return {
    texts: { calib: initialTextChoice(), eval: initialTextChoice() },

    setTextChoice(purpose, patch) {
      const clean = { ...patch };
      for (const k of ['windows', 'length'] as const) {
        const v = clean[k];
        if (v !== undefined && v !== null) clean[k] = Number.isInteger(v) && v > 0 ? v : null;
      }
      const cur = get().texts[purpose];
      if (Object.entries(clean).every(([k, v]) => cur[k as keyof TextChoiceState] === v)) return;
      patchChoice(purpose, clean);
    },

    async chooseTextFile(purpose, file) {
      const name = file.name;
      try {
        if (file.size > MAX_TEXT_BYTES) decodeTextFile(new Uint8Array(MAX_TEXT_BYTES + 1), name); // the size error, before reading
        const text = decodeTextFile(new Uint8Array(await file.arrayBuffer()), name);
        patchChoice(purpose, { kind: 'file', file: { name, text } });
        return true;
      } catch (e) {
        get().showError(`Reading ${name} as the ${PURPOSE_NAME[purpose]} text`, e);
        return false;
      }
    },
  };
};
