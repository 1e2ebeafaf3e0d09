// The playground's language-model half of the protocol: quantized variants of the loaded model,
// chart statistics, the truncation lab and A/B generation. Same rules as protocol.ts: every
// request has `kind` + `id`; zero or more `job-progress` replies, then one response or error;
// `cancel` with the request's id stops any of them. Everything is plain, clonable data and
// small: the UI never receives a weight tensor, only bins, counts and per-feature maxima.
import type { LinearInputSite } from '../../core/model/forward.ts';
import type { LinearName } from '../../core/model/model.ts';
import type { QuantMethod, QuantSpec } from '../../core/quant/quant-spec.ts';
import type { LayerQuantReport, QuantizeReport } from '../../engine/quantize.ts';
import type { ChatMessage, GenerationSummary, LoadProgress, SamplingSettings, TokenProgress } from './protocol.ts';

export type { LayerQuantReport, LinearInputSite, LinearName, QuantMethod, QuantizeReport, QuantSpec };
// Runtime helpers the UI needs (pure, DOM-free): the one spec, its labels and the linear names.
export { DEFAULT_SPEC, QUANT_METHODS, needsCalibration, specLabel, validateSpec } from '../../core/quant/quant-spec.ts';
export { LINEAR_NAMES } from '../../core/model/model.ts';

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

/** Where the worker reads the embedded texts (absolute URLs; the worker cannot resolve the page's). */
export interface TextSources {
  calib: string;
  eval: string;
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

export interface PairTokenProgress {
  kind: 'pair-token';
  side: 0 | 1; // 0 = A, 1 = B
  token: TokenProgress;
}

export type JobProgress = QuantizeJobProgress | EvalJobProgress | PairTokenProgress | LoadProgress;

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
  windows?: number; // calibration windows to use (default all)
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
  windows?: number; // evaluation windows to use (default all)
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
  windows: number; // evaluation windows (a subset, for responsiveness)
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

/** Generation results with the GPU memory the runner held (null on the CPU). */
export interface PairResult {
  results: [GenerationSummary, GenerationSummary];
}

/**
 * Download formats (the CLI's `nibble export --format`): gguf-* = one .gguf llama.cpp runs (needs a
 * SentencePiece/llama2.c vocabulary); gptq-safetensors = AutoGPTQ v1 folder (model.safetensors +
 * quantize_config.json + config.json) of a uniform-int variant; hf-safetensors = Hugging Face
 * folder (config.json, generation_config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json) of any model, variants dequantized; nibble = our bit-exact file.
 */
export const EXPORT_FILE_FORMATS = [
  'gguf-f32',
  'gguf-q8_0',
  'gguf-q4_0',
  'gptq-safetensors',
  'hf-safetensors',
  'nibble',
] as const;
export type ExportFileFormat = (typeof EXPORT_FILE_FORMATS)[number];

/** The files of one export: one for most formats, a folder's worth for gptq-safetensors (3) and hf-safetensors (4–6). */
export interface ExportedFiles {
  format: ExportFileFormat;
  label: string; // e.g. 'gptq int4 g32'
  files: { name: string; mime: string; bytes: ArrayBuffer }[];
  /** Suggested directory for a multi-file format ("stories260K-rtn-int4-g32"); absent for one file. */
  folder?: string;
}

export type LabRequest =
  | { kind: 'quantize'; id: number; spec: QuantSpec; text: TextSources }
  | { kind: 'list-variants'; id: number }
  | { kind: 'delete-variant'; id: number; variant: string }
  | { kind: 'export-variant'; id: number; variant: string }
  /** Writes a held model ('base' or a variant) in a download format; see ExportFileFormat. */
  | { kind: 'export-model'; id: number; variant: string; format: ExportFileFormat }
  | { kind: 'import-variant'; id: number; bytes: ArrayBuffer; meta?: Partial<VariantMeta> }
  | { kind: 'weight-histogram'; id: number; query: HistogramQuery }
  | { kind: 'collisions'; id: number; query: CollisionQuery }
  | { kind: 'outliers'; id: number; query: OutlierQuery }
  | { kind: 'drift'; id: number; query: DriftQuery }
  | { kind: 'truncation-point'; id: number; query: TruncationQuery }
  /** `messages`: a chat rendered through the model's template (as `generate`); then `prompt` is ignored. */
  | {
      kind: 'generate-pair';
      id: number;
      prompt: string;
      settings: SamplingSettings;
      variants: [string, string];
      messages?: ChatMessage[];
    };

export interface LabResultMap {
  quantize: VariantInfo;
  'list-variants': VariantInfo[];
  'delete-variant': { deleted: boolean };
  'export-variant': { bytes: ArrayBuffer; meta: VariantMeta };
  'export-model': ExportedFiles;
  'import-variant': VariantInfo;
  'weight-histogram': WeightHistogram;
  collisions: CollisionReport;
  outliers: OutlierReport;
  drift: DriftReport;
  'truncation-point': TruncationPoint;
  'generate-pair': PairResult;
}

/** Options of a long-running call: progress replies and cancellation. */
export interface JobOptions<P extends JobProgress = JobProgress> {
  onProgress?: (p: P) => void;
  signal?: AbortSignal;
}

/** The lab's half of the Engine (client and in-thread client alike). */
export interface LabEngine {
  quantize(spec: QuantSpec, text: TextSources, opts?: JobOptions<QuantizeJobProgress>): Promise<VariantInfo>;
  listVariants(): Promise<VariantInfo[]>;
  deleteVariant(variant: string): Promise<{ deleted: boolean }>;
  /** The variant as .nibble bytes (tokenizer embedded) and the meta to store beside them. */
  exportVariant(variant: string): Promise<{ bytes: ArrayBuffer; meta: VariantMeta }>;
  /** A held model ('base' or a variant) in a download format (buffers transferred). */
  exportModel(variant: string, format: ExportFileFormat): Promise<ExportedFiles>;
  /** A stored .nibble variant of the loaded model, back without re-quantizing (bytes transferred). */
  importVariant(bytes: ArrayBuffer, meta?: Partial<VariantMeta>): Promise<VariantInfo>;
  weightHistogram(query: HistogramQuery): Promise<WeightHistogram>;
  collisions(query: CollisionQuery): Promise<CollisionReport>;
  outliers(query: OutlierQuery, opts?: JobOptions): Promise<OutlierReport>;
  drift(query: DriftQuery, opts?: JobOptions<EvalJobProgress>): Promise<DriftReport>;
  truncationPoint(query: TruncationQuery, opts?: JobOptions<EvalJobProgress>): Promise<TruncationPoint>;
  /** Same prompt and settings on two variants at once; tokens of both stream as they come. */
  generatePair(
    prompt: string,
    settings: SamplingSettings,
    variants: [string, string],
    opts?: { onToken?: (side: 0 | 1, t: TokenProgress) => void; signal?: AbortSignal; messages?: ChatMessage[] },
  ): Promise<PairResult>;
}
