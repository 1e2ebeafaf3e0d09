// Calibration and evaluation text chosen by the user: where it comes from (the embedded
// TinyStories text, pasted text, a .txt file), how it is cut into token windows (count × length),
// the default windows for a model's size, the checks that turn bad input into a NibbleError, and
// the estimate the page and the CLI show before running. Pure: no DOM, no fetch.
import { NibbleError } from './errors.ts';
import type { TextTokenizer } from './tokenizers/text-tokenizer.ts';

/** What the text is for: GPTQ / SmoothQuant / LLM.int8 statistics, or perplexity and drift. */
export type TextPurpose = 'calib' | 'eval';

export type TextSource =
  | { kind: 'embedded'; url: string } // the TinyStories text shipped with the app (the host fetches it)
  | { kind: 'pasted'; text: string }
  | { kind: 'file'; name: string; text: string }; // decoded by decodeTextFile

/** `windows` windows of `length` tokens, taken from the start of the tokenized text. */
export interface WindowOptions {
  windows: number;
  length: number;
}

export interface TextChoice extends WindowOptions {
  source: TextSource;
}

/** Largest text accepted (bytes of a file, UTF-16 code units × 1 of pasted text). */
export const MAX_TEXT_BYTES = 16 << 20;
export const MAX_WINDOWS = 4096;
export const MAX_WINDOW_LENGTH = 1 << 16;

export const PURPOSE_NAME: Record<TextPurpose, string> = { calib: 'calibration', eval: 'evaluation' };

/** "the calibration text (notes.txt)", "the evaluation text (pasted)", "… (tinystories-eval)". */
export function describeText(source: TextSource, purpose: TextPurpose): string {
  const name =
    source.kind === 'pasted'
      ? 'pasted'
      : source.kind === 'file'
        ? source.name
        : (source.url.split('/').pop() ?? source.url).replace(/\.txt$/, '');
  return `the ${PURPOSE_NAME[purpose]} text (${name})`;
}

const mb = (n: number) => `${(n / (1 << 20)).toFixed(1)} MB`;

/**
 * The bytes of a dropped or picked file as text: at most MAX_TEXT_BYTES, UTF-8, no NUL bytes
 * (a binary file), not blank. Throws NibbleError 'over-limit' / 'bad-format' / 'bad-argument'.
 */
export function decodeTextFile(bytes: Uint8Array, name: string): string {
  if (bytes.byteLength > MAX_TEXT_BYTES)
    throw new NibbleError(
      'over-limit',
      `${name} is ${mb(bytes.byteLength)}; texts up to ${mb(MAX_TEXT_BYTES)} are accepted (cut it shorter)`,
    );
  if (bytes.indexOf(0) >= 0)
    throw new NibbleError('bad-format', `${name} is not a text file (it contains NUL bytes, as binary files do)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new NibbleError('bad-format', `${name} is not UTF-8 text (save it as UTF-8 .txt)`);
  }
  checkText(text, name);
  return text;
}

/** Refuses a blank or over-long text; `what` names it in the message. */
export function checkText(text: string, what: string): void {
  if (text.length > MAX_TEXT_BYTES)
    throw new NibbleError(
      'over-limit',
      `${what} has ${text.length} characters; texts up to ${MAX_TEXT_BYTES} (${mb(MAX_TEXT_BYTES)}) are accepted`,
    );
  if (text.trim().length === 0) throw new NibbleError('bad-argument', `${what} is empty`);
}

/** Refuses window options that are not whole numbers in range or longer than the context. */
export function checkWindowOptions(o: WindowOptions, context: number): void {
  if (!Number.isInteger(o.windows) || o.windows < 1 || o.windows > MAX_WINDOWS)
    throw new NibbleError('bad-argument', `windows must be a whole number in 1..${MAX_WINDOWS}, got ${o.windows}`);
  if (!Number.isInteger(o.length) || o.length < 2 || o.length > MAX_WINDOW_LENGTH)
    throw new NibbleError(
      'bad-argument',
      `window length must be a whole number in 2..${MAX_WINDOW_LENGTH}, got ${o.length}`,
    );
  if (o.length > context)
    throw new NibbleError('bad-argument', `window length ${o.length} exceeds the model's context of ${context}`);
}

/** Tokens of calibration/evaluation per model: about FLOP_BUDGET / (2 · params) FLOP-equivalent tokens. */
const TOKEN_BUDGET_PARAMS = 1e11;
const DEFAULT_MAX_WINDOWS = 64;
const DEFAULT_MIN_WINDOWS = 2;

/**
 * Default windows for a model of `params` weights and context `context`: 256-token windows up
 * to 100M parameters, 128 above (never past the context); about 1e11 / params tokens in all, so
 * a 260K model takes up to 64 windows (every window of the embedded texts), a 135M one 6, a 1B
 * one 2 — one pass stays near 2e11 FLOP whatever the size.
 */
export function defaultWindows(params: number, context: number): WindowOptions {
  const length = Math.max(2, Math.min(context, params <= 100e6 ? 256 : 128));
  const budget = TOKEN_BUDGET_PARAMS / Math.max(1, params);
  const windows = Math.max(DEFAULT_MIN_WINDOWS, Math.min(DEFAULT_MAX_WINDOWS, Math.round(budget / length)));
  return { windows, length };
}

/**
 * The first `opts.windows` windows of `text` — the same as textWindows(tok, text, length)
 * sliced, but lines are tokenized only until those windows are full (a 16 MB text is not
 * tokenized whole for 8 windows). A NibbleError naming the text (`what`) when it is blank, too
 * long, or shorter than one window after tokenization, or when the options are out of range.
 */
export function textChoiceWindows(
  tok: TextTokenizer,
  text: string,
  opts: WindowOptions,
  what: string,
  context: number,
): number[][] {
  checkWindowOptions(opts, context);
  checkText(text, what);
  const need = opts.windows * opts.length;
  const stream: number[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (stream.length >= need) break;
    if (line.trim().length === 0) continue;
    for (const id of tok.encode(line, { bos: true, eos: false })) stream.push(id);
  }
  const windows: number[][] = [];
  for (let s = 0; s + opts.length <= stream.length && windows.length < opts.windows; s += opts.length)
    windows.push(stream.slice(s, s + opts.length));
  if (windows.length === 0)
    throw new NibbleError(
      'bad-argument',
      `${what} is shorter than one window of ${opts.length} tokens (${stream.length} tokens): use a longer text or shorter windows`,
    );
  return windows;
}

/** Forward passes over the windows: GPTQ runs each block once per true-sequential group (4) plus the advance; eval runs target and reference. */
const PASSES: Record<TextPurpose, number> = { calib: 5, eval: 2 };
/** Rough sustained FLOP/s of one forward: JavaScript on one core, a WebGPU adapter. */
const FLOPS: Record<'cpu' | 'webgpu', number> = { cpu: 1.5e9, webgpu: 1e11 };

export interface TextEstimate {
  tokens: number; // windows × length
  /** Share of the text the windows cover (0..1), from ≈4 characters per token; null when the text's length is unknown. */
  coverage: number | null;
  seconds: number; // rough: passes × 2 × params × tokens / FLOP/s
}

/** What a choice costs before running it; `textChars` the text's length when known (embedded: null). */
export function estimateText(
  opts: WindowOptions,
  textChars: number | null,
  params: number,
  backend: 'cpu' | 'webgpu',
  purpose: TextPurpose,
): TextEstimate {
  const tokens = opts.windows * opts.length;
  const textTokens = textChars === null ? null : Math.max(1, textChars / 4);
  return {
    tokens,
    coverage: textTokens === null ? null : Math.min(1, tokens / textTokens),
    seconds: (PASSES[purpose] * 2 * params * tokens) / FLOPS[backend],
  };
}
