// The lab's data: what it holds (variants), what it is asked (queries) and what it answers
// (reports). Plain, structured-clone-safe values only, so the worker protocol (lab-protocol.ts)
// carries them unchanged; the UI never receives a weight tensor, only bins, counts and maxima.
import type { LinearInputSite } from '../../core/model/forward.ts';
import type { LinearName } from '../../core/model/model.ts';
import type { QuantSpec } from '../../core/quant/quant-spec.ts';
import type { LlamaModel } from '../../core/model/model.ts';
import type { TextTokenizer } from '../../core/tokenizers/text-tokenizer.ts';
import type { TokenizerFiles } from '../../core/tokenizers/tokenizer-files.ts';
import { EXPORT_FORMATS, type ExportFormat } from '../export-model.ts';
import type { QuantizeReport } from '../quantize.ts';
import type { TextChoice } from '../../core/text-source.ts';

/** Id of the loaded (fp32) model among the variants; quantized ones are 'v1', 'v2', … */
export const BASE_VARIANT = 'base';

/** One model the lab can run: the loaded fp32 model or a quantized copy of it. */
export interface VariantInfo {
  id: string;
  label: string; // "rtn int4 g32", "fp32"
  spec: QuantSpec;
  baseModel: string; // name of the loaded model it was made from
  origin: 'loaded' | 'quantized' | 'imported';
  weightBytes: number; // every tensor as stored
  linearBytes: number; // the quantized block linears alone
  bitsPerWeight: number; // storage bits per linear weight, scales/zeros included
  nominalBits: number; // the format's bits per weight
  seconds: number; // quantization time (0 for the loaded model)
  report: QuantizeReport | null; // per-layer SQNR / GPTQ loss / outlier dims; null for 'base'
  /** Download formats this model cannot be written in, each with the reason (the UI greys them out). */
  exportIssues?: Partial<Record<ExportFileFormat, string>>;
}

/** What a stored variant carries besides its .nibble bytes (the storage contract). */
export interface VariantMeta {
  label: string;
  spec: QuantSpec;
  report: QuantizeReport | null;
  baseModel: string;
}

/**
 * One text of a lab job: a bare string is the URL of an embedded text (absolute: the worker cannot
 * resolve the page's), cut into every window of min(256, context) tokens; a TextChoice is the
 * user's text (embedded, pasted or a file) with its window count and length.
 */
export type LabText = string | TextChoice;

/** The calibration and the evaluation text (each job reads the one it needs). */
export interface TextSources {
  calib: LabText;
  eval: LabText;
}

export interface QuantizeJobProgress {
  kind: 'quantize';
  stage: 'calibration' | 'quantize';
  layer: number; // 0-based
  nLayers: number;
  linear?: LinearName;
  gptqLoss?: number; // GPTQ: loss of `linear`, Σ (w − q)² / (2 U_ii²)
  fraction: number; // 0..1 overall
}

export interface EvalJobProgress {
  kind: 'eval';
  window: number; // windows done
  windows: number;
  pplSoFar: number;
  fraction: number;
}

// ---- charts ------------------------------------------------------------------------------

/** A weight matrix of the loaded model: block `layer`'s linear `linear` ((out, in) row-major). */
export interface TensorRef {
  layer: number;
  linear: LinearName;
}

export interface HistogramQuery extends TensorRef {
  spec: QuantSpec; // whose grid to draw (rtn/gptq: uniform; nf4/fp4: codebook; llmint8/smoothquant: absmax int8)
  bins: number; // 8..512
  row: number; // the selected group: output row …
  group: number; // … and group within it (codebooks: block index over the flattened tensor)
}

export interface WeightHistogram extends TensorRef {
  shape: [number, number];
  min: number;
  max: number;
  edges: number[]; // (bins + 1) ascending; bin i = [edges[i], edges[i + 1]), the last one closed
  counts: number[]; // (bins) every weight of the tensor
  groupCounts: number[]; // (bins) the selected group's weights alone
  row: number;
  group: number;
  nGroups: number; // groups per row (codebooks: blocks in the tensor)
  groupSize: number; // weights in the selected group
  grid: number[] | null; // dequantized levels of the selected group's quantizer, ascending
  gridLabel: string; // "int4 asym, scale 0.0123, zero 7" or why there is no grid
  mean: number;
  std: number;
}

export type Granularity = 'tensor' | 'row' | 'group';

export interface CollisionQuery extends TensorRef {
  bits: number[]; // subset of 8, 4, 3, 2
  granularities: { granularity: Granularity; group?: number }[];
  sym: boolean;
}

/** How the weights of one tensor share the codes of one uniform quantizer. */
export interface CollisionStats {
  bits: number;
  granularity: Granularity;
  group: number; // inputs per group (= in for tensor/row)
  label: string; // "int4 g32"
  counts: number[]; // (2^bits) weights per code
  total: number;
  unusedShare: number; // codes no weight maps to / 2^bits
  largest: { code: number; count: number; share: number };
  clippedLow: number; // weights whose unclamped code was < 0
  clippedHigh: number; // … > maxq
  clippedShare: number;
}

export interface CollisionReport extends TensorRef {
  shape: [number, number];
  sym: boolean;
  rows: CollisionStats[];
  backend: 'webgpu' | 'cpu'; // where the histogram kernel ran
  ms: number;
}

export interface OutlierQuery {
  threshold: number; // LLM.int8 α (6.0)
  text: TextSources;
  windows?: number; // at most this many of the calibration text's windows
}

/** Per linear input site and layer: max |x| of each input feature over the calibration windows. */
export interface OutlierReport {
  threshold: number;
  windows: number;
  tokens: number;
  sites: Record<LinearInputSite, { width: number; layers: { absMax: number[]; over: number[] }[] }>;
}

export interface DriftQuery {
  variant: string;
  text: TextSources;
  windows?: number; // at most this many of the evaluation text's windows
}

/** Evaluation of one variant against the loaded fp32 model on the same windows. */
export interface DriftReport {
  variant: string;
  ppl: number;
  tokens: number;
  windows: number;
  klMean: number | null; // null for the fp32 model itself
  klP99: number | null;
  top1: number | null;
  sqnrDb: number[]; // per layer, residual stream after each block (Infinity: identical)
  seconds: number;
  backend: 'webgpu' | 'cpu';
}

export interface TruncationQuery {
  k: number; // fraction bits kept, 0..23
  mode: 'truncate' | 'rne';
  text: TextSources;
  windows: number; // at most this many of the evaluation text's windows (a subset, for responsiveness)
  prompt: string; // fixed prompt of the sample text
  sampleTokens: number;
}

export interface TruncationPoint {
  k: number;
  mode: 'truncate' | 'rne';
  ppl: number;
  top1: number;
  klMean: number;
  sample: string; // greedy continuation of the prompt by the truncated model
  windows: number;
  tokens: number;
  seconds: number;
  backend: 'webgpu' | 'cpu';
}

/**
 * Download formats (the CLI's `nibble export --format`): gguf-* = one .gguf llama.cpp runs (needs a
 * SentencePiece/llama2.c vocabulary); gptq-safetensors = AutoGPTQ v1 folder (model.safetensors +
 * quantize_config.json + config.json) of a uniform-int variant; hf-safetensors = Hugging Face
 * folder (config.json, generation_config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json) of any model, variants dequantized; nibble = our bit-exact file.
 */
/** The download formats: the same list `nibble export` takes. */
export const EXPORT_FILE_FORMATS = EXPORT_FORMATS;
export type ExportFileFormat = ExportFormat;

/** The files of one export: one for most formats, a folder's worth for gptq-safetensors (3) and hf-safetensors (4–6). */
export interface ExportedFiles {
  format: ExportFileFormat;
  label: string; // e.g. 'gptq int4 g32'
  files: { name: string; mime: string; bytes: ArrayBuffer }[];
  /** Suggested directory for a multi-file format ("stories260K-rtn-int4-g32"); absent for one file. */
  folder?: string;
}

/** The loaded model as the lab sees it (held in the worker; never sent). */
export interface LabBase {
  name: string;
  model: LlamaModel; // fp32, as loaded
  tokenizer: TextTokenizer;
  tokBytes: Uint8Array; // embedded into exported variants
  /** The files the tokenizer was made from (HF models: tokenizer.json + config; tokBytes is then empty). */
  tokenizerFiles?: TokenizerFiles;
  /** The model's own context; it runs with a shorter one (config.seqLen), downloads carry this one. */
  ownContext?: number;
}
