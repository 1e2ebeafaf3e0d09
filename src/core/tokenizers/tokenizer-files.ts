// The files a tokenizer is made from, kept so a model can be saved (.nibble) or handed to a
// worker with its tokenizer: llama2.c tokenizer.bin, or Hugging Face tokenizer.json (+ config).
import { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.ts';
import type { TextTokenizer } from './text-tokenizer.ts';
import { Tokenizer } from './llama2c-tokenizer.ts';
import { NibbleError } from '../errors.ts';

export type TokenizerFiles =
  | { kind: 'llama2c'; bytes: Uint8Array }
  /** `options`: what came from config.json / generation_config.json / chat_template.jinja. */
  | { kind: 'hf'; json: Uint8Array; config?: Uint8Array; options?: HfTokenizerOptions };

/** Builds the tokenizer and checks it fits a model with `vocabSize` tokens. */
export function tokenizerFromFiles(files: TokenizerFiles, vocabSize: number): TextTokenizer {
  if (files.kind === 'llama2c') return Tokenizer.fromLlama2c(files.bytes, vocabSize);
  const tok = HfTokenizer.fromFiles(files.json, files.config, files.options);
  if (tok.vocabSize > vocabSize) {
    throw new NibbleError(
      'tokenizer-mismatch',
      `tokenizer.json has ${tok.vocabSize} tokens, the model's vocabulary has ${vocabSize}`,
    );
  }
  return tok;
}
