// The app state: one zustand store made of slices. Each slice owns one top-level key (plain,
// serializable data) plus its actions; actions reach the engine only through `Engine`.
import type { StateCreator } from 'zustand/vanilla';
import type {
  BackendPreference,
  Engine,
  EngineInfo,
  GenerationSummary,
  LoadProgress,
  ModelInfo,
  ModelPlan,
  ModelSource,
  SamplingSettings,
  SourceFile,
  WireError,
} from '../worker/engine-host/protocol.ts';
import type { TextSources, VariantMeta } from '../worker/engine-host/lab-protocol.ts';
import type {
  AbSlice,
  ChartsSlice,
  TextsSlice,
  JobsSlice,
  TruncationSlice,
  VariantPersistence,
  VariantsSlice,
  VisionDeps,
  VisionSlice,
} from './lab-types.ts';
import type { OpenedStore, StoredEntry, StoreRecovery } from '../worker/storage/storage.ts';

export type ModelStatus = 'idle' | 'loading' | 'ready' | 'error';

export interface ModelState {
  status: ModelStatus; // 'ready' ⇔ info !== null and no load in flight
  info: ModelInfo | null; // the loaded model (kept while a newer load runs or after it fails)
  engine: EngineInfo | null; // backend, GPU summary or why WebGPU is unavailable
  source: 'default' | 'files' | 'remote' | null; // where the loaded model came from
  loading: string | null; // name of the model being loaded
  error: WireError | null; // last load failure, cleared by the next successful load
}

/**
 * "Bring your own model": choose (files, folder, drop, URL) → 'inspecting' (headers only) →
 * 'planned' (the plan and the memory it needs here, for the chosen context) → 'loading' → idle
 * again, with the model in `model`. A failed or cancelled step goes back one step.
 */
export type PendingPhase = 'idle' | 'inspecting' | 'planned' | 'loading';

/** What the user chose, as plain data (the Blobs themselves stay inside the model slice). */
export interface PendingSource {
  kind: 'files' | 'remote';
  name: string;
  ref: string | null; // remote: the repo id or URL the engine fetches
  from: string | null; // remote: where the bytes are downloaded from ("huggingface.co/owner/name", a host)
  files: { path: string; bytes: number }[]; // files: as chosen (paths relative to the folder)
}

/** A running inspect or load: bytes read, measured rate, ETA. */
export interface ProgressView {
  op: 'inspect' | 'load';
  phase: LoadProgress['phase'];
  file: string;
  bytesDone: number;
  bytesTotal: number; // 0 = unknown
  etaMs: number | null;
  bytesPerSecond: number | null; // null until enough time has passed to measure
  startedAt: number; // performance.now() of the first byte asked for
}

export interface PendingModelState {
  phase: PendingPhase;
  source: PendingSource | null;
  /** The latest plan; kept while a new context is being planned ('inspecting' with a plan). */
  plan: ModelPlan | null;
  contextLength: number | null; // the context the plan is (being) made for
  progress: ProgressView | null;
  error: WireError | null; // the last inspect/load failure of this source (also on the banner)
  keep: boolean; // keep it in browser storage once it loads (single-file checkpoints only)
  /** The last load that finished: its final progress as the engine reported it, and how long it took. */
  finished: { name: string; progress: ProgressView | null; ms: number } | null;
}

export interface ModelSlice {
  model: ModelState;
  pending: PendingModelState;
  loadDefaultModel(): Promise<void>;
  /** Loads a user's llama2.c checkpoint + tokenizer (Files from the picker, or any Blob). */
  loadModelFiles(model: Blob, tokenizer: Blob, name?: string): Promise<void>;
  refreshEngineInfo(): Promise<void>;
  /** The user's files (paths relative to their folder) → inspect → a plan. Replaces any pending choice. */
  chooseModelFiles(files: SourceFile[], name: string): Promise<void>;
  /** An HF repo id or https URL the user typed and asked to fetch → inspect → a plan. */
  chooseRemoteModel(text: string): Promise<void>;
  /** A new context for the plan (clamped to 1…the model's own): plans again. */
  setPendingContext(contextLength: number): Promise<void>;
  setKeepPending(keep: boolean): void;
  /** Loads the planned model (refused while the plan says 'too-large'). */
  loadPendingModel(): Promise<void>;
  /** Stops the running inspect or load, or discards the plan. */
  cancelPendingModel(): void;
}

export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'error';

/** One prompt and the model's continuation. */
export interface ChatTurn {
  id: number;
  prompt: string;
  text: string; // grows token by token while streaming
  tokens: number; // generated so far
  status: TurnStatus;
  settings: SamplingSettings; // exactly what was sent (seed included), to reproduce the turn
  result: GenerationSummary | null; // set when it ends normally or is stopped
  error: WireError | null;
  /** Sent as a chat (the user's message, rendered by the model's template); else a completion. */
  chat?: boolean;
}

export interface ChatState {
  turns: ChatTurn[];
  /** The turn being generated and its live decode rate; null when idle. */
  streaming: { turnId: number; tokensPerSecond: number } | null;
  sampling: SamplingSettings;
  variant: string; // which held variant answers ('base' = the loaded model)
  /** System prompt sent first when the model has a chat template ('' = none). */
  system: string;
}

export interface ChatSlice {
  chat: ChatState;
  /**
   * Starts a generation for `prompt` (empty = from BOS); no-op unless a model is ready and none
   * runs. With a chat template (ModelInfo.chatTemplate) `prompt` is the user's message, sent with
   * the system prompt and the earlier chat turns as `messages`.
   */
  send(prompt: string): Promise<void>;
  setSystemPrompt(text: string): void;
  stop(): void;
  /** Merges a patch, clamping each field to its valid range; non-finite values are ignored. */
  setSampling(patch: Partial<SamplingSettings>): void;
  clearChat(): void;
  setChatVariant(id: string): void;
}

export type Tab = 'chat' | 'quantize' | 'charts' | 'truncation';
export const TABS: readonly Tab[] = ['chat', 'quantize', 'charts', 'truncation'];

export interface SettingsState {
  tab: Tab;
  backend: BackendPreference; // applied by reloading the current model
  randomSeed: boolean; // draw a fresh seed for every send (shown in the seed field)
}

export interface SettingsSlice {
  settings: SettingsState;
  setTab(tab: Tab): void;
  setBackendPreference(b: BackendPreference): Promise<void>;
  setRandomSeed(on: boolean): void;
}

/** The banner: the latest typed error from any action or from the engine itself. */
export interface ErrorSlice {
  error: (WireError & { context: string }) | null;
  showError(context: string, e: unknown): void;
  dismissError(): void;
}

/**
 * The whole store. Slices own one top-level key each; a new slice adds its type here and its
 * creator to SLICES in store.ts. VariantPersistence is the optional hook a storage slice fills.
 */
// ---- storage (storage-slice.ts) ----

/** Opens the store (the app passes openBestStore: OPFS, or memory with the reason). */
export type StorageOpener = () => Promise<{ store: OpenedStore; fallback: string | null }>;

export interface StorageState {
  status: 'idle' | 'opening' | 'ready' | 'error';
  backend: 'opfs' | 'memory' | null;
  fallback: string | null; // why entries are kept in memory only (no OPFS here)
  entries: StoredEntry[];
  usage: number; // bytes used by this origin (navigator.storage.estimate)
  quota: number; // bytes available to it; 0 = unknown
  persisted: boolean | null; // the browser promised not to evict it (navigator.storage.persisted); null = unknown
  busy: Record<string, 'loading' | 'deleting'>; // by entry id
  drawerOpen: boolean;
  recovery: StoreRecovery | null; // the manifest was repaired when the store opened
  error: WireError | null;
}

export interface StorageSlice {
  storage: StorageState;
  /** Opens the store once and lists it (later calls refresh). */
  openStorage(): Promise<void>;
  refreshStorage(): Promise<void>;
  /** Keeps a user-loaded llama2.c model (checkpoint + tokenizer) in the store. */
  storeModelFiles(name: string, model: Blob, tokenizer: Blob): Promise<StoredEntry | null>;
  /** Loads the user's files (model slice) and, once they load, keeps them in the store. */
  loadAndKeepModelFiles(model: Blob, tokenizer: Blob, name: string): Promise<void>;
  /** Loads a stored model into the engine, or a stored variant into the variants list. */
  loadStored(id: string): Promise<void>;
  removeStored(id: string): Promise<void>;
  setDrawerOpen(open: boolean): void;
  /** The variants slice's hook: every new variant is stored as { 'model.nibble' } with its meta. */
  persistVariant?: (bytes: Uint8Array, meta: VariantMeta) => Promise<void>;
}

export type AppState = ModelSlice &
  ChatSlice &
  SettingsSlice &
  ErrorSlice &
  VariantsSlice &
  JobsSlice &
  ChartsSlice &
  TextsSlice &
  TruncationSlice &
  AbSlice &
  VariantPersistence &
  VisionSlice &
  StorageSlice;

/** What slices share besides the store: the engine and how to find the embedded model. */
export interface StoreDeps {
  engine: Engine;
  defaultSource: Extract<ModelSource, { kind: 'url' }>;
  /** Seeds for random-seed mode; injectable for tests. */
  randomSeed?: () => number;
  /** Streamed tokens reach the state at most this often (ms; default 16, 0 = every token). */
  streamFlushMs?: number;
  /** Absolute URLs of the embedded calibration and evaluation texts (the worker fetches them). */
  text?: TextSources;
  /** The vision worker (spawned on first use) and the embedded ViT lab's URLs (vision-slice.ts). */
  vision?: VisionDeps;
  /** Opens the stored-models store (storage-slice.ts); absent → nothing is stored. */
  storage?: StorageOpener;
}

/** The source a reload (e.g. after a backend switch) uses: the embedded URL, the user's Blobs, or a chosen source with its context. */
export type ReloadSource =
  | { kind: 'default' }
  | { kind: 'files'; model: Blob; tokenizer: Blob; name: string }
  | { kind: 'source'; source: Extract<ModelSource, { kind: 'files' | 'remote' }>; contextLength: number | undefined };

export interface SliceContext extends StoreDeps {
  lastSource: ReloadSource | null;
  /** Abort controllers of the running jobs (jobs-slice.ts), by job id. */
  jobCtrls: Map<number, AbortController>;
}

export type Slice<T> = (ctx: SliceContext) => StateCreator<AppState, [], [], T>;

export type SetState = (fn: (s: AppState) => Partial<AppState>) => void;
export type GetState = () => AppState;

// Engine data shapes the UI renders; re-exported so the UI depends on the store alone.
export type {
  BackendPreference,
  EngineInfo,
  GenerationSummary,
  GpuSummary,
  LoadProgress,
  MemoryPlan,
  ModelInfo,
  ModelPlan,
  SamplingSettings,
  SourceFile,
  WireError,
} from '../worker/engine-host/protocol.ts';
