// The lab's downloads (`export-model`): a held model — the loaded one ('base') or a variant — in
// one of the download formats, through the same pure dispatch the CLI's `nibble export` uses
// (engine/export-model.ts). The page receives plain bytes (transferred, not copied) and saves
// them; the worker never touches the DOM.
import type { LlamaModel } from '../../core/model/model.ts';
import type { TokenizerFiles } from '../../core/tokenizers/tokenizer-files.ts';
import { EXPORT_FORMATS, exportIssue, exportModelFiles } from '../export-model.ts';
import type { ExportedFiles, ExportFileFormat, LabBase, VariantInfo } from './lab-types.ts';

/** The tokenizer files of the loaded model (a llama2.c tokenizer.bin unless the load carried others). */
export function tokenizerFilesOf(b: LabBase): TokenizerFiles {
  return b.tokenizerFiles ?? { kind: 'llama2c', bytes: b.tokBytes };
}

/** Formats `model` cannot be written in, with why (VariantInfo.exportIssues). */
export function exportIssuesOf(
  model: LlamaModel,
  tokenizer: TokenizerFiles,
): Partial<Record<ExportFileFormat, string>> {
  const out: Partial<Record<ExportFileFormat, string>> = {};
  for (const f of EXPORT_FORMATS) {
    const issue = exportIssue(model, tokenizer.kind, f);
    if (issue) out[f] = issue.message;
  }
  return out;
}

/** A model name as the file stem: the loaded file's extension dropped ("stories15M.bin" → "stories15M"). */
const modelStem = (name: string): string => name.replace(/\.(bin|gguf|nibble|safetensors)$/i, '');

/** The export-model answer: every file's bytes in its own ArrayBuffer (so each can be transferred). */
export function exportHeld(
  b: LabBase,
  held: { info: VariantInfo; model: LlamaModel },
  format: ExportFileFormat,
): ExportedFiles {
  // Files say the model's own context, not the shorter one it was loaded to run with.
  const model = b.ownContext ? { ...held.model, config: { ...held.model.config, seqLen: b.ownContext } } : held.model;
  const { files, folder } = exportModelFiles(
    {
      model,
      modelName: modelStem(b.name),
      label: held.info.label,
      spec: held.info.spec,
      tokenizerFiles: tokenizerFilesOf(b),
    },
    format,
  );
  const out = files.map((f) => {
    const whole =
      f.bytes.byteOffset === 0 &&
      f.bytes.byteLength === f.bytes.buffer.byteLength &&
      f.bytes.buffer instanceof ArrayBuffer;
    return { name: f.name, mime: f.mime, bytes: (whole ? f.bytes.buffer : f.bytes.slice().buffer) as ArrayBuffer };
  });
  return { format, label: held.info.label, files: out, ...(folder ? { folder } : {}) };
}
