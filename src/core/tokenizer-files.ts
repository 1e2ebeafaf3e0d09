// The files a tokenizer is made from, kept so a model can be saved (.nibble) or handed to a
// worker with its tokenizer: llama2.c tokenizer.bin, or Hugging Face tokenizer.json (+ config).
import { HfTokenizer } from './hf-tokenizer.ts';
import type { TextTokenizer } from './text-tokenizer.ts';
import { Tokenizer } from './tokenizer.ts';
import { NibbleError } from './errors.ts';

export type TokenizerFiles =
  | { kind: 'llama2c'; bytes: Uint8Array }
  | { kind: 'hf'; json: Uint8Array; config?: Uint8Array };

/** Builds the tokenizer and checks it fits a model with `vocabSize` tokens. */
export function tokenizerFromFiles(files: TokenizerFiles, vocabSize: number): TextTokenizer {
  if (files.kind === 'llama2c') return Tokenizer.fromLlama2c(files.bytes, vocabSize);
  const tok = HfTokenizer.fromFiles(files.json, files.config);
  if (tok.vocabSize > vocabSize) {
    throw new NibbleError('tokenizer-mismatch', `tokenizer.json has ${tok.vocabSize} tokens, the model's vocabulary has ${vocabSize}`);
  }
  return tok;
}
