// State shapes of the playground's slices: variants (+ the Quantize form), jobs, charts, the
// language-model truncation lab, A/B chat, the vision lab. Plain, serializable data; results are what the
// worker sent (small arrays), never weight tensors.
import type {
  CollisionReport,
  DriftReport,
  ExportedFiles,
  ExportFileFormat,
  JobProgress,
  LinearInputSite,
  LinearName,
  OutlierReport,
  QuantSpec,
  TextSources,
  TruncationPoint,
  VariantInfo,
  VariantMeta,
  WeightHistogram,
} from '../worker/engine-host/lab-protocol.ts';
import type { TextPurpose } from '../core/text-source.ts';
export type { TextPurpose };
import type { GenerationSummary, SamplingSettings, WireError } from '../worker/engine-host/protocol.ts';
import type {
  TruncMode as VisionTruncMode,
  VisionEngine,
  VisionModelInfo,
  VisionPoint,
  VisionSource,
} from '../worker/vision/vision-protocol.ts';

export type {
  CollisionReport,
  CollisionStats,
  DriftReport,
  ExportedFiles,
  ExportFileFormat,
  Granularity,
  LinearInputSite,
  LinearName,
  OutlierReport,
  QuantMethod,
  QuantSpec,
  TextSources,
  TruncationPoint,
  VariantInfo,
  VariantMeta,
  WeightHistogram,
} from '../worker/engine-host/lab-protocol.ts';
export type { GpuMemory } from '../worker/engine-host/protocol.ts';

/** Status of one asynchronous result the UI shows. */
export interface Async<T> {
  status: 'idle' | 'loading' | 'ready' | 'error';
  data: T | null;
  error: WireError | null;
}

// ---- variants ----

export interface VariantsState {
  list: VariantInfo[]; // the loaded model ('base') first, then variants in creation order
  form: QuantSpec; // the Quantize panel's options (also the quantizer the charts draw)
  /** Where each variant's copy in storage stands (only when a storage slice persists them). */
  saved: Record<string, 'saving' | 'saved' | 'error'>;
  /** The export being written in the worker (one at a time), or null. */
  exporting: { id: string; format: ExportFileFormat } | null;
}

export interface VariantsSlice {
  variants: VariantsState;
  setQuantForm(patch: Partial<QuantSpec>): void;
  /** Quantizes the loaded model with the form's spec (a job with progress); the new variant, or null. */
  quantize(): Promise<VariantInfo | null>;
  deleteVariant(id: string): Promise<void>;
  /** A stored .nibble variant back into the worker without re-quantizing. */
  importVariant(bytes: ArrayBuffer | Uint8Array, meta?: Partial<VariantMeta>): Promise<VariantInfo | null>;
  /** The variant as .nibble bytes + meta (download, or persisting). */
  exportVariant(id: string): Promise<{ bytes: Uint8Array; meta: VariantMeta } | null>;
  /**
   * A held model ('base' or a variant) written in a download format by the worker (the CLI's
   * `nibble export` formats); the files for the UI to save, or null after showing the error.
   */
  exportModel(id: string, format: ExportFileFormat): Promise<ExportedFiles | null>;
  refreshVariants(): Promise<void>;
}

/**
 * Optional hook a storage slice provides (src/state/storage-slice.ts): when present, every new
 * variant is persisted as { 'model.nibble': bytes } with `meta`.
 */
export interface VariantPersistence {
  persistVariant?: (bytes: Uint8Array, meta: VariantMeta) => Promise<void>;
}

// ---- jobs ----

export type JobKind = 'quantize' | 'drift' | 'truncation' | 'outliers';

export interface JobState {
  id: number;
  kind: JobKind;
  label: string; // "Quantizing rtn int4 g32", "Evaluating v1"
  status: 'running' | 'done' | 'error' | 'cancelled';
  fraction: number; // 0..1
  stage: string; // "layer 3 of 5 · wq", "window 4 of 12 · ppl 7.12"
  losses: { step: string; loss: number }[]; // GPTQ: loss per linear as it goes
  startedAt: number; // ms (performance.now)
  endedAt: number | null;
  error: WireError | null;
}

export interface JobsSlice {
  jobs: { list: JobState[] }; // newest last; finished ones kept (at most 12)
  cancelJob(id: number): void;
  /** Drops the finished jobs from the list. */
  clearJobs(): void;
}

/** Stage line of a progress message (pure; the jobs slice and tests use it). */
export type ProgressLine = (p: JobProgress) => string;

// ---- charts ----

export interface ChartsState {
  tensor: { layer: number; linear: LinearName };
  histogram: Async<WeightHistogram> & { bins: number; row: number; group: number; logCount: boolean };
  collisions: Async<CollisionReport> & { bits: number[]; groups: number[]; sym: boolean };
  outliers: Async<OutlierReport> & { threshold: number; site: LinearInputSite };
  drift: Record<string, Async<DriftReport>>; // by variant id ('base' = fp32 perplexity)
}

export interface ChartsSlice {
  charts: ChartsState;
  selectTensor(patch: Partial<ChartsState['tensor']>): void;
  setHistogramOptions(patch: Partial<Pick<ChartsState['histogram'], 'bins' | 'row' | 'group' | 'logCount'>>): void;
  setCollisionOptions(patch: Partial<Pick<ChartsState['collisions'], 'bits' | 'groups' | 'sym'>>): void;
  setOutlierOptions(patch: Partial<Pick<ChartsState['outliers'], 'threshold' | 'site'>>): void;
  /** Windows of the evaluation text (0 = the model-size default); results for another count are dropped. */
  setEvalWindows(n: number): void;
  loadHistogram(): Promise<void>;
  loadCollisions(): Promise<void>;
  loadOutliers(): Promise<void>;
  /** Drift of one variant vs fp32 (and the fp32 perplexity when missing), on the evaluation text. */
  computeDrift(id: string): Promise<void>;
  /** Drift of every held variant that has none yet. */
  computeAllDrift(): Promise<void>;
}

// ---- truncation lab (language model) ----

export type TruncMode = 'truncate' | 'rne';

export interface TruncationState {
  k: number; // fraction bits, 0..23
  mode: TruncMode;
  points: Record<string, TruncationPoint>; // by truncKey(mode, k)
  running: string | null; // key being computed
  queue: string[]; // keys asked for (a sweep), computed after the current one
  errors: Record<string, WireError>;
  windows: number; // evaluation windows per point (a subset, for responsiveness)
  prompt: string; // the sample's fixed prompt
  sampleTokens: number;
}

export interface TruncationSlice {
  truncation: TruncationState;
  /** Moves the slider / toggle: the point for (k, mode) is computed unless cached. */
  setTruncation(patch: Partial<Pick<TruncationState, 'k' | 'mode'>>): void;
  /** Queues every k of the current mode (the whole curve). */
  sweepTruncation(): void;
  stopTruncation(): void;
}

// ---- A/B chat ----

export interface AbSide {
  variant: string;
  label: string;
  text: string;
  pieces: string[]; // text of each generated token, in order (to mark the divergence)
  tokens: number[];
  tokensPerSecond: number;
  result: GenerationSummary | null;
}

export interface AbTurn {
  id: number;
  prompt: string;
  settings: SamplingSettings;
  sides: [AbSide, AbSide];
  divergeAt: number | null; // index of the first generated token where A and B differ
  status: 'streaming' | 'done' | 'stopped' | 'error';
  error: WireError | null;
}

export interface AbState {
  enabled: boolean; // the chat shows A/B columns
  a: string; // variant ids
  b: string;
  turns: AbTurn[];
  streaming: boolean;
}

export interface AbSlice {
  ab: AbState;
  setAb(patch: Partial<Pick<AbState, 'enabled' | 'a' | 'b'>>): void;
  sendAb(prompt: string): Promise<void>;
  stopAb(): void;
  clearAb(): void;
}

/** What the lab slices need from the deps: where the worker reads the embedded texts. */
export interface LabDeps {
  text?: TextSources;
}

// ---- vision lab (vision-slice.ts) ----

/** How the store reaches the vision worker (spawned on first use) and where the embedded lab lives. */
export interface VisionDeps {
  spawn: () => VisionEngine;
  source: Extract<VisionSource, { kind: 'url' }>;
  samples?: number; // digits in the grid (default 48)
}

export interface VisionJob {
  k: number | null; // null = fp32
  mode: VisionTruncMode | null;
  done: number; // images classified
  total: number;
}

export interface VisionState {
  status: 'idle' | 'opening' | 'ready' | 'error';
  /** The embedded lab's source (a dropped model alone runs on its data set). */
  embedded: Extract<VisionSource, { kind: 'url' }> | null;
  opening: string | null; // name of the model being opened
  model: VisionModelInfo | null;
  k: number; // slider: fraction bits kept, 0..23
  mode: VisionTruncMode;
  points: Record<string, VisionPoint>; // by visionKey(k, mode); 'fp32' for the original model
  /** Predictions of the point the grid shows (the slider's, once it has arrived). */
  shown: { key: string; predictions: Uint8Array } | null;
  /** The fp32 model's predictions (to mark digits a truncation flipped). */
  reference: Uint8Array | null;
  /** The slider's evaluation in flight. */
  evaluating: VisionJob | null;
  /** The curve sweep in flight: points done of total, and the point being computed. */
  sweep: { done: number; total: number; current: VisionJob | null } | null;
  error: WireError | null;
}

export interface VisionSlice {
  vision: VisionState;
  /** Opens the embedded ViT + held-out digits (no-op when it is already open or opening). */
  openVisionDefault(): Promise<void>;
  /** Opens a dropped model + data set (bytes already read by the UI; images already decoded). */
  openVision(source: VisionSource): Promise<void>;
  setVisionBits(k: number): void;
  setVisionMode(mode: VisionTruncMode): void;
  /** Fills the curve for both modes, k = 0..23 (coarse bits first). */
  sweepVision(): Promise<void>;
  stopVisionSweep(): void;
  /** Cancels everything and shuts the vision worker down (a later open starts a new one). */
  closeVision(): void;
}

// ---- calibration / evaluation texts ----

/** Where a text comes from, as the Text control offers it. */
export type TextKind = 'tinystories' | 'pasted' | 'file';

/** The user's choice for one purpose; `windows` / `length` null = the model-size default. */
export interface TextChoiceState {
  kind: TextKind;
  pasted: string; // kept while another kind is chosen
  file: { name: string; text: string } | null; // decoded (decodeTextFile) when picked
  windows: number | null;
  length: number | null;
}

export interface TextsSlice {
  texts: Record<TextPurpose, TextChoiceState>;
  /** Changes one text's choice; the evaluation text's drift results are dropped (another text). */
  setTextChoice(purpose: TextPurpose, patch: Partial<Omit<TextChoiceState, 'file'>>): void;
  /**
   * A dropped or picked file: size checked before reading (MAX_TEXT_BYTES), then decoded and
   * checked (binary, UTF-8, blank); false with the error in the banner.
   */
  chooseTextFile(
    purpose: TextPurpose,
    file: { name: string; size: number; arrayBuffer(): Promise<ArrayBuffer> },
  ): Promise<boolean>;
}
