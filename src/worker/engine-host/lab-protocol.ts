// The playground's language-model half of the protocol: quantized variants of the loaded model,
// chart statistics, the truncation lab and A/B generation. Same rules as protocol.ts: every
// request has `kind` + `id`; zero or more `job-progress` replies, then one response or error;
// `cancel` with the request's id stops any of them. The data the requests carry and answer is
// the lab's own (src/engine/lab/lab-types.ts): plain, clonable and small.
import type { LinearInputSite } from '../../core/model/forward.ts';
import type { LinearName } from '../../core/model/model.ts';
import type { QuantMethod, QuantSpec } from '../../core/quant/quant-spec.ts';
import type {
  CollisionQuery,
  CollisionReport,
  DriftQuery,
  DriftReport,
  EvalJobProgress,
  ExportedFiles,
  ExportFileFormat,
  HistogramQuery,
  OutlierQuery,
  OutlierReport,
  QuantizeJobProgress,
  TextSources,
  TruncationPoint,
  TruncationQuery,
  VariantInfo,
  VariantMeta,
  WeightHistogram,
} from '../../engine/lab/lab-types.ts';
import type { LayerQuantReport, QuantizeReport } from '../../engine/quantize.ts';
import type { ChatMessage } from '../../core/formats/hf/chat-template.ts';
import type { GenerationSummary, LoadProgress, SamplingSettings, TokenProgress } from './protocol-data.ts';

export type { LayerQuantReport, LinearInputSite, LinearName, QuantMethod, QuantizeReport, QuantSpec };
export type {
  CollisionQuery,
  CollisionReport,
  CollisionStats,
  DriftQuery,
  DriftReport,
  EvalJobProgress,
  ExportedFiles,
  ExportFileFormat,
  Granularity,
  HistogramQuery,
  OutlierQuery,
  OutlierReport,
  QuantizeJobProgress,
  TensorRef,
  TextSources,
  TruncationPoint,
  TruncationQuery,
  VariantInfo,
  VariantMeta,
  WeightHistogram,
} from '../../engine/lab/lab-types.ts';
export { BASE_VARIANT, EXPORT_FILE_FORMATS } from '../../engine/lab/lab-types.ts';
// Runtime helpers the UI needs (pure, DOM-free): the one spec, its labels and the linear names.
export { DEFAULT_SPEC, QUANT_METHODS, needsCalibration, specLabel, validateSpec } from '../../core/quant/quant-spec.ts';
export { LINEAR_NAMES } from '../../core/model/model.ts';

export interface PairTokenProgress {
  kind: 'pair-token';
  side: 0 | 1; // 0 = A, 1 = B
  token: TokenProgress;
}

export type JobProgress = QuantizeJobProgress | EvalJobProgress | PairTokenProgress | LoadProgress;

/** Generation results with the GPU memory the runner held (null on the CPU). */
export interface PairResult {
  results: [GenerationSummary, GenerationSummary];
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
