// "Export" on a variant row (the loaded fp32 model included): a download format and a Download
// button. Formats this model cannot be written in are greyed out with the worker's reason
// (VariantInfo.exportIssues) in their tooltip; the bytes are made in the worker (the CLI's
// `nibble export` dispatch) and saved by ../common/download.ts.
import { useState } from 'react';
import type { ExportFileFormat, VariantInfo } from '../../state/lab-types.ts';
import { useApp } from '../../state/react.tsx';
import { EXPORT_FILE_FORMATS } from '../../state/variants-slice.ts';
import { canPickFolder, saveExportedFiles } from '../common/download.ts';
import './export.css';

const LABEL: Record<ExportFileFormat, string> = {
  'gguf-f32': 'GGUF f32',
  'gguf-q8_0': 'GGUF Q8_0',
  'gguf-q4_0': 'GGUF Q4_0',
  'gptq-safetensors': 'GPTQ safetensors',
  'hf-safetensors': 'HF safetensors',
  nibble: '.nibble',
};

const HINT: Record<ExportFileFormat, string> = {
  'gguf-f32': 'one .gguf file llama.cpp runs, every tensor f32 (lossless)',
  'gguf-q8_0': 'one .gguf file llama.cpp runs, matrices Q8_0',
  'gguf-q4_0': 'one .gguf file llama.cpp runs, linears and embedding Q4_0, output Q8_0',
  'gptq-safetensors': 'AutoGPTQ checkpoint: model.safetensors + quantize_config.json + config.json',
  'hf-safetensors':
    'Hugging Face folder transformers loads: config.json, model.safetensors (f32; a variant dequantized), tokenizer.json',
  nibble: 'our bit-exact file with the tokenizer (loads here and in the nibble CLI)',
};

export function ExportControl({ v }: { v: VariantInfo }) {
  const exportModel = useApp((s) => s.exportModel);
  const exporting = useApp((s) => s.variants.exporting);
  const showError = useApp((s) => s.showError);
  const issues = v.exportIssues ?? {};
  const [format, setFormat] = useState<ExportFileFormat>(() => EXPORT_FILE_FORMATS.find((f) => !issues[f]) ?? 'nibble');
  const [saved, setSaved] = useState<string | null>(null);
  const issue = issues[format];
  const mine = exporting?.id === v.id;
  const multi = format === 'gptq-safetensors' || format === 'hf-safetensors';

  const download = async () => {
    setSaved(null);
    const files = await exportModel(v.id, format);
    if (!files) return;
    try {
      const out = await saveExportedFiles(files);
      if (out.how === 'folder') setSaved(`saved into ${out.folder}/`);
    } catch (e) {
      showError(`Saving ${files.files.map((f) => f.name).join(', ')}`, e);
    }
  };

  return (
    <span className="export-control" data-testid="export-control">
      <select
        className="mini-select"
        data-testid="export-format"
        aria-label={`Export format for ${v.label}`}
        value={format}
        onChange={(e) => setFormat(e.target.value as ExportFileFormat)}
      >
        {EXPORT_FILE_FORMATS.map((f) => (
          <option key={f} value={f} disabled={issues[f] !== undefined} title={issues[f] ?? HINT[f]}>
            {LABEL[f]}
            {issues[f] !== undefined ? ' (n/a)' : ''}
          </option>
        ))}
      </select>
      <button
        type="button"
        className="mini-button"
        data-testid="export-download"
        disabled={issue !== undefined || exporting !== null}
        title={
          issue ??
          `${HINT[format]}${multi ? (canPickFolder() ? ' — saved into a folder you pick' : ' — one download per file') : ''}`
        }
        onClick={() => void download()}
      >
        {mine ? 'Exporting…' : 'Download'}
      </button>
      {saved && <span className="muted small">{saved}</span>}
    </span>
  );
}
