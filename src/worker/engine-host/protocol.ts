// The engine protocol: a closed union of requests (each with a `kind` and a caller-chosen `id`)
// and the replies the engine sends back. Every message is structured-clone safe (plain data,
// ArrayBuffers) so it crosses a Worker boundary unchanged; the in-thread transport clones too,
// so tests exercise exactly what a Worker would see.
//
// Reply rules (per request id): zero or more `progress` (tokens) or `job-progress` replies, then
// exactly one `response` or one `error`. Replies with id null are unsolicited: an `error` (the
// GPU device was lost, the WebGPU runner failed) or an `event` (the model moved to WebGPU).
// The playground's requests (variants, charts, truncation, A/B) are in lab-protocol.ts.
import type { NibbleErrorCode } from '../../core/errors.ts';
import type { ChatMessage } from '../../core/formats/hf/chat-template.ts';
import type { MemoryPlan } from '../../core/plan/memory-plan.ts';
import type { LlamaConfig } from '../../core/model/model.ts';
import type { Backend } from '../../engine/runner.ts';
import type { AdapterSummary } from '../../gpu/device.ts';
import type { JobProgress, LabEngine, LabRequest, LabResultMap } from './lab-protocol.ts';
import type { GenerationSummary, LoadProgress, SamplingSettings, TokenProgress } from './protocol-data.ts';

export type { Backend, ChatMessage, MemoryPlan };
export type { GenerationSummary, GpuMemory, LoadProgress, SamplingSettings, TokenProgress } from './protocol-data.ts';

/** Error codes on the wire: every NibbleError code plus two the host adds itself. */
export type ErrorCode =
  | NibbleErrorCode
  | 'fetch-failed' // a model URL could not be read (network, HTTP status)
  | 'internal'; // anything that was not a NibbleError: a bug, reported with its message

export interface WireError {
  code: ErrorCode;
  message: string;
}

/**
 * Where model + tokenizer bytes come from. Byte sources transfer their buffers to the engine.
 * - 'url': the embedded default (a llama2.c checkpoint + tokenizer under public/models);
 * - 'bytes': checkpoint + tokenizer already in memory (stored variants, tests);
 * - 'files': the user's files (picker, drag-and-drop, a folder): one checkpoint (.bin, .gguf,
 *   .nibble) with an optional tokenizer .bin, or a Hugging Face folder (config.json,
 *   tokenizer.json, *.safetensors, …). Blobs cross to the worker without copying their bytes and
 *   are read by ranges (one tensor at a time), never whole;
 * - 'remote': fetched only because the user typed it: an HF repo id ("owner/name" or
 *   "owner/name@revision", resolved on huggingface.co) or an https URL of one file (.gguf, .bin,
 *   .nibble). Read with HTTP Range requests when the server honours them.
 */
export type ModelSource =
  | { kind: 'url'; name: string; modelUrl: string; tokenizerUrl: string }
  | { kind: 'bytes'; name: string; model: ArrayBuffer; tokenizer: ArrayBuffer }
  | { kind: 'files'; name: string; files: SourceFile[] }
  | { kind: 'remote'; name: string; ref: string };

/** One user file; `path` is relative to the chosen folder ('config.json', 'shards/x.safetensors') or the bare file name. */
export interface SourceFile {
  path: string;
  blob: Blob;
}

/** Options of a load (and of the inspect that precedes it). */
export interface LoadOptions {
  backend?: BackendPreference;
  /** Context (KV cache positions) to allocate: at most the model's own; default min(model's, DEFAULT_CONTEXT). */
  contextLength?: number;
}

export { DEFAULT_CONTEXT } from '../../core/formats/model-open.ts';

/** What `inspect` tells before loading: the model, its files, and the memory it will need here. */
export interface ModelPlan {
  name: string;
  format: 'llama2c' | 'gguf' | 'nibble' | 'hf';
  architecture: string; // 'llama', 'qwen2', … (llama2.c checkpoints: 'llama')
  config: LlamaConfig; // seqLen = the model's own context
  params: number;
  fileBytes: number; // bytes a load reads
  files: { path: string; bytes: number; role: 'weights' | 'config' | 'tokenizer' | 'other' }[];
  tokenizer: 'llama2c' | 'hf' | 'gguf' | 'missing';
  chatTemplate: boolean;
  /** For the chosen context; against this GPU's limits (verdict 'no-gpu' without one). */
  memory: MemoryPlan;
}

/** 'auto' = WebGPU when an adapter is available, else CPU; 'cpu' forces the CPU twin. */
export type BackendPreference = 'auto' | 'cpu';

export interface GpuSummary {
  adapter: AdapterSummary;
  /** What the adapter offers (the device requests only what the chosen kernels use). */
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  subgroupSizes: [min: number, max: number] | null; // null when the adapter does not say
  kernels: string; // the kernel variants in use, e.g. "f32, subgroup reductions"
  /** The limits that decide what fits: bytes for sizes, counts for the rest. */
  limits: Record<string, number>;
}

export interface EngineInfo {
  /** Backend of the loaded model, or the one the next load will use when none is loaded. */
  backend: Backend;
  /** Set when a WebGPU device is held. */
  gpu: GpuSummary | null;
  /** True while the adapter and device are being requested. */
  gpuChecking: boolean;
  /** Why WebGPU cannot be used (no navigator.gpu, no adapter, this model's runner failed); else null. */
  gpuUnavailable: string | null;
  /**
   * True while the loaded model runs on the CPU and its WebGPU runner is being prepared
   * (device request, kernel compilation). A `model-updated` event follows either way.
   */
  upgrading: boolean;
  model: ModelInfo | null;
}

export interface ModelInfo {
  name: string;
  format?: ModelPlan['format'];
  architecture?: string;
  /** The model has a chat template: `generate` with `messages` renders it (no BOS added by us). */
  chatTemplate?: boolean;
  config: LlamaConfig;
  params: number; // weight count, shared classifier counted once
  modelBytes: number;
  tokenizerBytes: number;
  backend: Backend;
  loadMs: number; // bytes in hand → first usable runner (excludes fetch)
  fetchMs: number; // 0 for byte sources
  gpuMs: number | null; // bytes in hand → WebGPU runner ready; null until then (or never)
}

export type Request =
  | { kind: 'get-info'; id: number }
  | { kind: 'load'; id: number; source: ModelSource; backend: BackendPreference; contextLength?: number }
  /** Reads headers only (progress replies while it does) and answers the plan; loads nothing. */
  | { kind: 'inspect'; id: number; source: ModelSource; contextLength?: number }
  /**
   * `variant`: which held model generates ('base' = the loaded one, the default). `messages`: a
   * chat, rendered through the model's chat template (then `prompt` is ignored); refused with
   * 'unsupported' when the model has no template.
   */
  | {
      kind: 'generate';
      id: number;
      prompt: string;
      settings: SamplingSettings;
      variant?: string;
      messages?: ChatMessage[];
    }
  /** Stops request `target` (a generation or a lab job); answered at once with `{ cancelled }` (false if it was not running). */
  | { kind: 'cancel'; id: number; target: number }
  | LabRequest;

export type RequestKind = Request['kind'];

/** Result type of each request kind. */
export interface ResultMap extends LabResultMap {
  'get-info': EngineInfo;
  load: { model: ModelInfo; engine: EngineInfo };
  inspect: ModelPlan;
  generate: GenerationSummary;
  cancel: { cancelled: boolean };
}

/** The loaded model changed backend (WebGPU runner ready, or it failed and the CPU stays). */
export interface ModelUpdated {
  kind: 'model-updated';
  model: ModelInfo;
  engine: EngineInfo;
}

export type Reply =
  | { [K in RequestKind]: { kind: 'response'; id: number; request: K; result: ResultMap[K] } }[RequestKind]
  | { kind: 'progress'; id: number; token: TokenProgress }
  | { kind: 'job-progress'; id: number; progress: JobProgress }
  | { kind: 'error'; id: number | null; error: WireError }
  | { kind: 'event'; id: null; event: ModelUpdated };

/** Messages that do not answer a request (id null): engine failures and model updates. */
export type EngineEvent = { kind: 'error'; error: WireError } | ModelUpdated;

/**
 * What the store talks to. The worker-backed client and the in-thread client implement it the
 * same way (one `EngineClient` class over two transports), so callers cannot tell them apart.
 */
export interface Engine extends LabEngine {
  getInfo(): Promise<EngineInfo>;
  /**
   * `onProgress`: bytes read per phase (job-progress replies of the load). `signal` cancels it
   * (rejects with 'cancelled'; the previous model stays loaded).
   */
  load(
    source: ModelSource,
    backend?: BackendPreference,
    opts?: { contextLength?: number; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal },
  ): Promise<{ model: ModelInfo; engine: EngineInfo }>;
  /** Reads headers only and answers the plan (nothing is loaded); `signal` cancels it. */
  inspect(
    source: ModelSource,
    opts?: { contextLength?: number; onProgress?: (p: LoadProgress) => void; signal?: AbortSignal },
  ): Promise<ModelPlan>;
  /**
   * Resolves with stoppedBy 'cancelled' when `signal` aborts mid-run (never rejects for that).
   * `messages`: a chat rendered through the model's template (`prompt` is then ignored);
   * rejects with 'unsupported' when the model has none (ModelInfo.chatTemplate).
   */
  generate(
    prompt: string,
    settings: SamplingSettings,
    opts?: { onToken?: (t: TokenProgress) => void; signal?: AbortSignal; variant?: string; messages?: ChatMessage[] },
  ): Promise<GenerationSummary>;
  /** Unsolicited events (device lost); returns an unsubscribe function. */
  onEvent(listener: (e: EngineEvent) => void): () => void;
  dispose(): void;
}

/** Thrown by the client for an `error` reply; keeps the wire code. */
export class EngineError extends Error {
  readonly code: ErrorCode;
  constructor(e: WireError) {
    super(e.message);
    this.name = 'EngineError';
    this.code = e.code;
  }
}

/**
 * Any thrown value → a wire error. NibbleError/EngineError codes and plain wire errors (already
 * `{ code, message }` data) survive; anything else is 'internal'.
 */
export function toWireError(e: unknown): WireError {
  if (typeof e === 'object' && e !== null && typeof (e as WireError).code === 'string' && 'message' in e) {
    const name = (e as { name?: unknown }).name;
    if (name === 'NibbleError' || name === 'EngineError' || !(e instanceof Error)) {
      return { code: (e as WireError).code, message: String((e as WireError).message) };
    }
  }
  if (e instanceof Error) return { code: 'internal', message: e.message || e.name };
  return { code: 'internal', message: String(e) };
}
