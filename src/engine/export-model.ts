// One model → the files of one download format. Pure (no fs, no DOM): the CLI (`nibble export`)
// writes the result to --out, the worker (lab `export-model`) sends it to the page. Formats:
//   gguf-f32 | gguf-q8_0 | gguf-q4_0   one .gguf llama.cpp runs (core/gguf/write.ts); needs a
//                                      SentencePiece vocabulary, i.e. a llama2.c tokenizer.bin
//   gptq-safetensors                   AutoGPTQ v1: model.safetensors + quantize_config.json +
//                                      config.json (core/export/gptq.ts), uniform-int linears only
//   hf-safetensors                     a Hugging Face folder transformers loads: config.json,
//                                      generation_config.json, model.safetensors (F32; variants
//                                      dequantized = fake-quant), tokenizer.json (+ config, chat
//                                      template) (core/export/hf-folder.ts); any model and tokenizer
//   nibble                             our bit-exact .nibble file with the tokenizer embedded
// Invariant: exportIssue(...) === null ⇔ exportModelFiles does not refuse the format up front
// (the writers may still find a deeper mismatch, e.g. AutoGPTQ's single group size, and throw
// their own typed error). The UI greys out a format with exportIssue's message.
import { NibbleError, type NibbleErrorCode } from '../core/errors.ts';
import { exportGptqCheckpoint } from '../core/formats/export/gptq.ts';
import { exportHfFolder } from '../core/formats/export/hf-folder.ts';
import { vocabFromLlama2c } from '../core/formats/gguf/vocab.ts';
import { writeGgufModel, type GgufExportFormat } from '../core/formats/gguf/write.ts';
import { LINEAR_NAMES, type LlamaModel } from '../core/model/model.ts';
import { writeNibbleFile } from '../core/formats/nibble-file.ts';
import { isUniformFormat, UNIFORM_BITS } from '../core/quant/format.ts';
import type { TokenizerFiles } from '../core/tokenizers/tokenizer-files.ts';
import type { QuantSpec } from '../core/quant/quant-spec.ts';

export const EXPORT_FORMATS = [
  'gguf-f32',
  'gguf-q8_0',
  'gguf-q4_0',
  'gptq-safetensors',
  'hf-safetensors',
  'nibble',
] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportInput {
  model: LlamaModel;
  modelName: string; // the model's name (file names; GGUF general.name)
  label: string; // 'fp32' for the model as loaded, else the variant's label ("rtn int4 g32")
  spec?: QuantSpec; // written into .nibble files; GPTQ damp/static groups for quantize_config.json
  tokenizerFiles: TokenizerFiles;
}

export interface ExportFile {
  name: string; // file name (the GPTQ and HF folder files keep the names AutoGPTQ / transformers load)
  mime: string;
  bytes: Uint8Array;
}

export interface ExportResult {
  files: ExportFile[];
  folder: string | null; // suggested directory for multi-file formats (gptq-safetensors, hf-safetensors)
}

export interface ExportIssue {
  code: NibbleErrorCode;
  message: string;
}

const isGguf = (f: ExportFormat): f is GgufExportFormat => f.startsWith('gguf-');
const GGUF_SUFFIX: Record<GgufExportFormat, string> = { 'gguf-f32': 'f32', 'gguf-q8_0': 'q8_0', 'gguf-q4_0': 'q4_0' };

/** File-name-safe text: letters, digits, '.', '_' and '-' kept; runs of anything else → '-'. */
export function safeName(s: string): string {
  const out = s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return out.slice(0, 100) || 'model';
}

/** "stories260K" for the model as loaded, "stories260K-rtn-int4-g32" for a variant. */
export const exportStem = (modelName: string, label: string): string =>
  label === 'fp32' ? safeName(modelName) : `${safeName(modelName)}-${safeName(label)}`;

/** Why `format` cannot be written for this model and tokenizer, or null when it can. */
export function exportIssue(model: LlamaModel, tokenizer: TokenizerFiles['kind'], format: string): ExportIssue | null {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    return {
      code: 'bad-argument',
      message: `export format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`,
    };
  }
  const f = format as ExportFormat;
  if (isGguf(f)) {
    if (tokenizer !== 'llama2c') {
      return {
        code: 'unsupported',
        message: `${f} writes a SentencePiece ("llama") vocabulary from a llama2.c tokenizer; this model's tokenizer is a Hugging Face tokenizer.json (export .nibble instead)`,
      };
    }
    if (model.weights.attnBias)
      return {
        code: 'unsupported',
        message: 'GGUF export: attention biases (Qwen2-style) are not written; only plain Llama models',
      };
  }
  if (f === 'gptq-safetensors') {
    if (model.weights.attnBias)
      return {
        code: 'unsupported',
        message: 'GPTQ export: attention biases (Qwen2-style) are not written; only plain Llama models',
      };
    const bits = new Set<number>();
    for (const [l, lw] of model.weights.layers.entries()) {
      for (const n of LINEAR_NAMES) {
        const fmt = lw[n].format;
        if (!isUniformFormat(fmt)) {
          return {
            code: 'bad-argument',
            message: `gptq-safetensors: layer ${l} ${n} is ${fmt}; the GPTQ layout needs uniform-int linears (an rtn or gptq variant)`,
          };
        }
        bits.add(UNIFORM_BITS[fmt]);
      }
    }
    if (bits.size > 1)
      return { code: 'unsupported', message: `GPTQ export: linears mix ${[...bits].join(' and ')} bits` };
  }
  return null;
}

const json = (v: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);
const OCTETS = 'application/octet-stream';

/** The files of `format` for `input`; NibbleError with exportIssue's code when it cannot be written. */
export function exportModelFiles(input: ExportInput, format: ExportFormat): ExportResult {
  const issue = exportIssue(input.model, input.tokenizerFiles.kind, format);
  if (issue) throw new NibbleError(issue.code, issue.message);
  const { model, modelName, label, spec, tokenizerFiles } = input;
  const stem = exportStem(modelName, label);
  if (format === 'nibble') {
    return {
      files: [
        {
          name: `${stem}.nibble`,
          mime: OCTETS,
          bytes: writeNibbleFile(model, { tokenizer: tokenizerFiles, label, spec }),
        },
      ],
      folder: null,
    };
  }
  if (format === 'hf-safetensors') {
    const files = exportHfFolder(model, tokenizerFiles, {
      dtype: 'F32',
      name: label === 'fp32' ? modelName : `${modelName} (${label})`,
    });
    // A folder apart from the GPTQ one (both hold config.json and model.safetensors).
    return { files, folder: stem.endsWith('-hf') ? stem : `${stem}-hf` };
  }
  if (format === 'gptq-safetensors') {
    const ckpt = exportGptqCheckpoint(model, {
      dampPercent: spec?.damp,
      staticGroups: spec?.staticGroups,
      trueSequential: true,
    });
    return {
      files: [
        { name: 'model.safetensors', mime: OCTETS, bytes: ckpt.safetensors },
        { name: 'quantize_config.json', mime: 'application/json', bytes: json(ckpt.quantizeConfig) },
        { name: 'config.json', mime: 'application/json', bytes: json(ckpt.config) },
      ],
      folder: stem,
    };
  }
  if (tokenizerFiles.kind !== 'llama2c') throw new NibbleError('unsupported', `${format} needs a llama2.c tokenizer`); // exportIssue said so
  const vocab = vocabFromLlama2c(tokenizerFiles.bytes, model.config.vocabSize);
  const generalName = label === 'fp32' ? modelName : `${modelName} (${label})`;
  const bytes = writeGgufModel(model, vocab, format, { name: generalName });
  return { files: [{ name: `${stem}-${GGUF_SUFFIX[format]}.gguf`, mime: OCTETS, bytes }], folder: null };
}
