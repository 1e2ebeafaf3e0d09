// What the page's "load your own model" hands the worker: a checkpoint file and, unless the
// checkpoint carries one, a llama2.c tokenizer file. Accepted checkpoints: llama2.c .bin,
// GGUF (tokenizer from tokenizer.ggml.*) and .nibble variants (tokenizer embedded).
import { NibbleError } from '../core/errors.ts';
import { loadGguf } from '../core/gguf/llama.ts';
import { detectModelFormat } from '../core/hf/detect.ts';
import { parseLlama2c } from '../core/llama2c.ts';
import type { LlamaModel } from '../core/model.ts';
import { readNibbleFile } from '../core/nibble-file-read.ts';
import { Tokenizer } from '../core/tokenizer.ts';

export interface ParsedModelFiles {
  model: LlamaModel;
  tokenizer: Tokenizer;
  tokBytes: Uint8Array; // llama2.c tokenizer.bin bytes (embedded into exported variants)
}

/** `tokBytes` may be empty when the checkpoint carries its tokenizer. */
export function parseModelFiles(modelBytes: Uint8Array, tokBytes: Uint8Array): ParsedModelFiles {
  let model: LlamaModel;
  let carried: Uint8Array | null = null;
  switch (detectModelFormat(modelBytes)) {
    case 'gguf': {
      const g = loadGguf(modelBytes);
      model = g.model;
      carried = g.tokenizerBytes;
      break;
    }
    case 'nibble': {
      const f = readNibbleFile(modelBytes);
      if (f.tokenizerFiles?.kind === 'hf') {
        throw new NibbleError('unsupported', 'this .nibble variant carries a Hugging Face tokenizer, which the page cannot load yet; use the nibble CLI');
      }
      model = f.model;
      carried = f.tokenizer;
      break;
    }
    case 'safetensors':
      throw new NibbleError('unsupported', 'a single .safetensors file has no config or tokenizer: Hugging Face folders load in the nibble CLI (--model DIR)');
    default:
      model = parseLlama2c(modelBytes);
  }
  const tok = tokBytes.byteLength > 0 ? tokBytes : carried;
  if (!tok) throw new NibbleError('bad-argument', 'this checkpoint carries no tokenizer: choose its tokenizer .bin too');
  return { model, tokenizer: Tokenizer.fromLlama2c(tok, model.config.vocabSize), tokBytes: tok };
}
