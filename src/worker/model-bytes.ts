// A checkpoint and its tokenizer already in memory → model + tokenizer, synchronously. The host
// loads every source (bytes included) through model-source.ts, which reads by ranges and checks
// the memory plan first; this is the small in-memory form of the same format switch, for callers
// that hold the bytes and want no progress. Accepted checkpoints: llama2.c .bin, GGUF (tokenizer
// from tokenizer.ggml.*) and .nibble variants (llama2.c or Hugging Face tokenizer embedded).
import { NibbleError } from '../core/errors.ts';
import { loadGguf } from '../core/gguf/llama.ts';
import { detectModelFormat } from '../core/hf/detect.ts';
import { parseLlama2c } from '../core/llama2c.ts';
import type { LlamaModel } from '../core/model.ts';
import { tokenizerFilesOf } from '../core/model-open.ts';
import { readNibbleFile } from '../core/nibble-file-read.ts';
import type { TextTokenizer } from '../core/text-tokenizer.ts';
import { tokenizerFromFiles, type TokenizerFiles } from '../core/tokenizer-files.ts';

export interface ParsedModelFiles {
  model: LlamaModel;
  tokenizer: TextTokenizer;
  tokBytes: Uint8Array; // llama2.c tokenizer.bin bytes (embedded into exported variants); empty for HF tokenizers
  tokenizerFiles: TokenizerFiles;
}

/** `tokBytes` may be empty when the checkpoint carries its tokenizer. */
export function parseModelFiles(modelBytes: Uint8Array, tokBytes: Uint8Array): ParsedModelFiles {
  let model: LlamaModel;
  let carried: TokenizerFiles | null = null;
  switch (detectModelFormat(modelBytes)) {
    case 'gguf': {
      const g = loadGguf(modelBytes);
      model = g.model;
      carried = { kind: 'llama2c', bytes: g.tokenizerBytes };
      break;
    }
    case 'nibble': {
      const f = readNibbleFile(modelBytes);
      model = f.model;
      carried = f.tokenizerFiles;
      break;
    }
    case 'safetensors':
      throw new NibbleError('unsupported', 'a single .safetensors file has no config or tokenizer: choose the whole model folder (config.json, tokenizer.json and the .safetensors files)');
    default:
      model = parseLlama2c(modelBytes);
  }
  const files = tokBytes.byteLength > 0 ? tokenizerFilesOf(tokBytes) : carried;
  if (!files) throw new NibbleError('bad-argument', 'this checkpoint carries no tokenizer: choose its tokenizer .bin too');
  const tokenizer = tokenizerFromFiles(files, model.config.vocabSize);
  return { model, tokenizer, tokBytes: files.kind === 'llama2c' ? files.bytes : new Uint8Array(0), tokenizerFiles: files };
}
