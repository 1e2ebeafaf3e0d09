// Opening a model whatever its format, for the CLI and the page's worker alike: one checkpoint
// file (llama2.c, GGUF or .nibble, told apart by content) through a RangeReader, or a Hugging
// Face folder; with the tokenizer the user gave, else the one the file carries.
//
// Reading: GGUF by ranges (the header, then one tensor at a time, so the file is never in memory
// next to its converted tensors); HF folders one tensor at a time (hf/load.ts, with
// ModelFolder.open); llama2.c and .nibble, our own small formats, are read whole.
import { NibbleError } from '../errors.ts';
import { requireFiniteWeights } from './finite.ts';
import { readGgufHeader } from './gguf/read.ts';
import { loadGgufRanged } from './gguf/llama.ts';
import { detectModelFormat } from './hf/detect.ts';
import { loadHfModel, type ModelFolder } from './hf/load.ts';
import { HfTokenizer } from '../tokenizers/hf-tokenizer.ts';
import { parseLlama2c } from './llama2c.ts';
import type { ModelFormat } from './model-inspect.ts';
import type { LlamaModel } from '../model/model.ts';
import { readNibbleFile } from './nibble-file-read.ts';
import type { RangeReader } from './safetensors.ts';
import type { TextTokenizer } from '../tokenizers/text-tokenizer.ts';
import { tokenizerFromFiles, type TokenizerFiles } from '../tokenizers/tokenizer-files.ts';

export interface OpenedModel {
  model: LlamaModel; // config.seqLen = the context chosen
  tokenizer: TextTokenizer;
  tokenizerFiles: TokenizerFiles; // what the tokenizer was made from (saved into .nibble files)
  label: string | null; // a .nibble file's variant label
  format: ModelFormat;
  architecture: string;
  chatTemplate: string | undefined;
  /** Things the user should know about the load (bf16 values f16 could not hold). */
  notes?: string[];
}

export interface OpenOptions {
  /** The context (KV cache positions) to run with, from the model's own; may throw. Default: its own. */
  chooseContext?: (own: number) => number;
  /** GGUF only, when chooseContext is absent: llama.cpp's -c (any length, default the file's). */
  contextLength?: number;
  /** GGUF only: 'native' keeps Q8_0/Q4_0 linears as our q8/q4 tensors (no f32 copy); default 'f32'. */
  ggufWeights?: 'f32' | 'native';
  /** The tokenizer the user gave; wins over the one the file carries. */
  tokenizer?: TokenizerFiles | null;
  /** The 'bad-argument' message when there is neither. */
  missingTokenizer?: string;
  /** Called once the headers are read, before the tensor data (progress phases). */
  onWeights?: () => void;
}

/** Context hosts allocate when the user does not choose (a 32K-context model would need GBs of KV cache). */
export const DEFAULT_CONTEXT = 2048;

/** The context to run with: `requested` (a whole number in 1..own), else min(own, DEFAULT_CONTEXT). */
export function chooseContext(requested: number | undefined | null, own: number): number {
  if (requested === undefined || requested === null) return Math.min(own, DEFAULT_CONTEXT);
  if (!Number.isInteger(requested) || requested < 1 || requested > own) {
    throw new NibbleError(
      'bad-argument',
      `context length ${String(requested)} must be a whole number in 1..${own} (the model's own context)`,
    );
  }
  return requested;
}

const MISSING_TOKENIZER = 'this checkpoint carries no tokenizer: choose its tokenizer .bin too';

/** Tokenizer file bytes as TokenizerFiles: JSON ('{') is tokenizer.json, anything else a llama2.c tokenizer.bin. */
export const tokenizerFilesOf = (bytes: Uint8Array, config?: Uint8Array): TokenizerFiles =>
  bytes[0] === 0x7b ? { kind: 'hf', json: bytes, ...(config ? { config } : {}) } : { kind: 'llama2c', bytes };

/** The model with the context chooseContext picks (the tensors are shared, not copied). */
function withContext(model: LlamaModel, choose: OpenOptions['chooseContext']): LlamaModel {
  if (!choose) return model;
  return { ...model, config: { ...model.config, seqLen: choose(model.config.seqLen) } };
}

function finish(
  model: LlamaModel,
  carried: TokenizerFiles | null,
  rest: Omit<OpenedModel, 'model' | 'tokenizer' | 'tokenizerFiles' | 'chatTemplate'>,
  opts: OpenOptions,
  built?: TextTokenizer,
): OpenedModel {
  requireFiniteWeights(model, `the ${rest.format} model`);
  const files = opts.tokenizer ?? carried;
  if (!files) throw new NibbleError('bad-argument', opts.missingTokenizer ?? MISSING_TOKENIZER);
  const tokenizer = !opts.tokenizer && built ? built : tokenizerFromFiles(files, model.config.vocabSize);
  const chatTemplate = tokenizer instanceof HfTokenizer ? tokenizer.chatTemplate : undefined;
  return { model, tokenizer, tokenizerFiles: files, chatTemplate, ...rest };
}

/** One checkpoint file; a single .safetensors file is refused ('unsupported': its folder is the model). */
export async function openCheckpoint(reader: RangeReader, opts: OpenOptions = {}): Promise<OpenedModel> {
  const head = await reader.read(0, Math.min(reader.size, 256));
  const format = detectModelFormat(head, reader.size);
  if (format === 'gguf') {
    const header = await readGgufHeader(reader);
    opts.onWeights?.();
    const g = await loadGgufRanged(header, reader, {
      contextLength: opts.contextLength,
      chooseContext: opts.chooseContext,
      weights: opts.ggufWeights,
    });
    return finish(
      g.model,
      { kind: 'llama2c', bytes: g.tokenizerBytes },
      { label: null, format: 'gguf', architecture: 'llama' },
      opts,
      g.tokenizer,
    );
  }
  if (format === 'safetensors') {
    throw new NibbleError(
      'unsupported',
      'a single .safetensors file has no config or tokenizer: choose the whole model folder (config.json, tokenizer.json and the .safetensors files)',
    );
  }
  // Our own formats: read whole (validated against this length before anything is allocated).
  opts.onWeights?.();
  const bytes = await reader.read(0, reader.size);
  if (bytes.byteLength !== reader.size)
    throw new NibbleError('truncated', `read ${bytes.byteLength} of the checkpoint's ${reader.size} bytes`);
  if (format === 'nibble') {
    const f = readNibbleFile(bytes);
    return finish(
      withContext(f.model, opts.chooseContext),
      f.tokenizerFiles,
      { label: f.label, format: 'nibble', architecture: 'llama' },
      opts,
    );
  }
  return finish(
    withContext(parseLlama2c(bytes), opts.chooseContext),
    null,
    { label: null, format: 'llama2c', architecture: 'llama' },
    opts,
  );
}

/** A Hugging Face folder (config.json, tokenizer.json, safetensors); its own tokenizer unless one is given. */
export async function openHfFolder(folder: ModelFolder, opts: OpenOptions = {}): Promise<OpenedModel> {
  const hf = await loadHfModel(folder);
  const json = await folder.get('tokenizer.json');
  const carried: TokenizerFiles | null = json
    ? { kind: 'hf', json, config: await folder.get('tokenizer_config.json'), options: hf.tokenizerOptions }
    : null;
  return finish(
    withContext(hf.model, opts.chooseContext),
    carried,
    {
      label: null,
      format: 'hf',
      architecture: hf.arch,
      ...(hf.bf16Narrowing.note ? { notes: [hf.bf16Narrowing.note] } : {}),
    },
    opts,
    hf.tokenizer,
  );
}

/** A RangeReader over bytes already in memory (reads are views, not copies). */
export const bytesReader = (bytes: Uint8Array): RangeReader => ({
  size: bytes.byteLength,
  read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.byteLength, offset + length)),
});
