// `nibble export`: optionally quantize (same flags as `nibble quantize`), then write the model in
// another format. CLI glue only: the format dispatch is engine/export-model.ts (the app's
// export uses the same function), over the pure writers (core/gguf/write.ts, core/export/*.ts).
//   gguf-f32 | gguf-q8_0 | gguf-q4_0   one .gguf file llama.cpp runs (block types: write.ts)
//   gptq-safetensors                   AutoGPTQ v1 checkpoint of a uniform-int variant:
//       --out DIR                 → DIR/model.safetensors, DIR/quantize_config.json, DIR/config.json
//       --out NAME.safetensors    → that file, with quantize_config.json and config.json beside it
//   hf-safetensors                     a Hugging Face folder (core/export/hf-folder.ts):
//       --out DIR                 → DIR/config.json, generation_config.json, model.safetensors,
//                                   tokenizer.json, tokenizer_config.json (+ chat_template.jinja)
//   nibble                             a .nibble file (as `nibble quantize`)
// --model: whatever model-files.ts loadModel takes (llama2.c .bin, .nibble, .gguf, HF folder); the
// GGUF formats need a llama2.c/SentencePiece vocabulary (not a tokenizer.json).
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NibbleError } from '../core/errors.ts';
import { textWindows } from '../core/model/metrics.ts';
import { EXPORT_FORMATS, exportModelFiles, type ExportFormat } from '../engine/export-model.ts';
import { needsCalibration } from '../core/quant/quant-spec.ts';
import { quantizeModel } from '../engine/quantize.ts';
import { numberOption, parseArgs } from './args.ts';
import type { CliIo } from './cli-io.ts';
import { loadModel, readInput, withOwnContext } from './model-files.ts';
import { QUANT_FLAGS, specFromArgs } from './quant-commands.ts';

// The quantize flags (as quant-commands.ts reads them through specFromArgs) plus --format and --out.
const EXPORT_FLAGS = { ...QUANT_FLAGS, format: { kind: 'string' }, out: { kind: 'string' } } as const;

export { EXPORT_FORMATS, type ExportFormat };

export const EXPORT_USAGE = `
export: write a model (optionally quantized first) in another format.
  nibble export --model FILE [--tokenizer FILE] [--calib FILE] [--method M options]
                --format ${EXPORT_FORMATS.join('|')} --out PATH [--json]
  --model PATH      llama2.c .bin, .nibble, .gguf or an HF folder (the GGUF formats need a
                    llama2.c/SentencePiece vocabulary: a .bin/.gguf/.nibble one or --tokenizer)
  --format F        gguf-f32: all F32 | gguf-q8_0: 2-D tensors Q8_0 | gguf-q4_0: linears and
                    embedding Q4_0, output Q8_0 (norms F32; rows not a multiple of 32 are F16)
                    gptq-safetensors: AutoGPTQ v1 (qweight/qzeros/scales/g_idx) of a gptq/rtn
                    variant (bits 2, 3, 4, 8), fp16 embeddings/norms; --out DIR writes
                    DIR/model.safetensors + quantize_config.json + config.json, --out X.safetensors
                    writes X.safetensors with the two JSON files beside it
                    hf-safetensors: a Hugging Face folder transformers loads (--out DIR):
                    config.json, generation_config.json, model.safetensors (F32; a quantized
                    variant is stored dequantized), tokenizer.json + tokenizer_config.json
                    nibble: a .nibble file (as quantize)
  method options as for quantize (default --method fp32: export the model as loaded)
`;

async function calibrationText(io: CliIo, path: string): Promise<string> {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await readInput(io, 'calib', path));
  } catch (e) {
    if (e instanceof NibbleError) throw e;
    throw new NibbleError('bad-format', `--calib ${path} is not UTF-8 text`);
  }
}

async function write(path: string, bytes: Uint8Array | string): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (e) {
    throw new NibbleError('bad-argument', `cannot write ${path}: ${(e as Error).message}`);
  }
}

export async function runExport(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, EXPORT_FLAGS);
  if (args.flags.has('help') || args.flags.has('h')) return (io.stdout.write(EXPORT_USAGE), 0);
  if (args.positionals.length) throw new NibbleError('bad-argument', `unexpected argument "${args.positionals[0]}"`);
  const format = args.values.format as ExportFormat | undefined;
  if (!format || !(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new NibbleError(
      'bad-argument',
      `--format must be one of ${EXPORT_FORMATS.join(', ')}${format ? `, got "${format}"` : ''}`,
    );
  const out = args.values.out;
  if (!out) throw new NibbleError('bad-argument', '--out PATH is required');
  if (format === 'hf-safetensors' && out.endsWith('.safetensors')) {
    throw new NibbleError(
      'bad-argument',
      `--format hf-safetensors writes a folder (config.json, model.safetensors, tokenizer.json, …): give --out DIR, not ${out}`,
    );
  }
  const seq = numberOption(args, 'seq', 256, { min: 2, max: 1 << 16, integer: true });
  const spec = specFromArgs(args);
  if (format === 'gptq-safetensors' && spec.method !== 'fp32' && spec.method !== 'gptq' && spec.method !== 'rtn') {
    throw new NibbleError(
      'bad-argument',
      `--format gptq-safetensors needs --method gptq or rtn (or a .nibble variant with uniform-int linears), got --method ${spec.method}`,
    );
  }
  if (needsCalibration(spec.method) && !args.values.calib)
    throw new NibbleError('bad-argument', `--method ${spec.method} needs calibration text: add --calib FILE`);

  const loaded = await loadModel(io, args.values.model, args.values.tokenizer);
  if (args.values.calib && seq > loaded.model.config.seqLen)
    throw new NibbleError('bad-argument', `--seq ${seq} exceeds the model's context of ${loaded.model.config.seqLen}`);
  const calibration = args.values.calib
    ? textWindows(loaded.tokenizer, await calibrationText(io, args.values.calib), seq)
    : [];
  if (args.values.calib && calibration.length === 0)
    throw new NibbleError('bad-argument', `--calib text is shorter than one window of ${seq} tokens`);
  const q = await quantizeModel(loaded.model, spec, {
    calibration,
    onProgress: (p) => {
      io.stderr.write(`nibble: ${p.stage} layer ${p.layer + 1}/${p.nLayers}${p.linear ? ` ${p.linear}` : ''}\n`);
    },
  });
  const label = spec.method === 'fp32' ? (loaded.label ?? 'fp32') : q.report.label;

  const stem = basename(args.values.model!).replace(/\.[^.]*$/, '');
  const result = exportModelFiles(
    { model: withOwnContext(loaded, q.model), modelName: stem, label, spec, tokenizerFiles: loaded.tokenizerFiles },
    format,
  );
  // Where each file goes: a one-file format to --out; a folder format's files into --out DIR,
  // or (GPTQ only) beside --out X.safetensors, which then takes model.safetensors' bytes.
  const intoDir = result.files.length > 1 && !out.endsWith('.safetensors');
  const dir = intoDir ? out : dirname(out);
  if (intoDir)
    await mkdir(dir, { recursive: true }).catch((e: Error) => {
      throw new NibbleError('bad-argument', `cannot create --out ${dir}: ${e.message}`);
    });
  const files: { path: string; bytes: number }[] = [];
  for (const f of result.files) {
    const path = result.files.length === 1 || (!intoDir && f.name === 'model.safetensors') ? out : join(dir, f.name);
    await write(path, f.bytes);
    files.push({ path, bytes: f.bytes.byteLength });
  }
  const summary = { format, label, files };
  io.stdout.write(
    args.flags.has('json')
      ? `${JSON.stringify(summary, null, 2)}\n`
      : files.map((f) => `wrote ${f.path}: ${label}, ${f.bytes} bytes\n`).join(''),
  );
  return 0;
}
