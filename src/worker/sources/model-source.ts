// Inspecting and loading a ModelSource for the engine host: open its files (sources/), read the
// headers only (core/model-inspect.ts), choose the context, check the memory plan, and only then
// read the weights (core/model-open.ts: GGUF and safetensors one tensor at a time). The header
// reads of that first pass are kept and served again to the loader, so they happen once.
import { NibbleError } from '../../core/errors.ts';
import { planMemory, type DeviceBudget, type TensorPlanEntry } from '../../core/plan/memory-plan.ts';
import { describeCheckpoint, describeHfFolder, type ModelDescription } from '../../core/formats/model-inspect.ts';
import { describeModelTensors } from '../../core/plan/model-tensors.ts';
import { chooseContext, openCheckpoint, openHfFolder, type OpenedModel } from '../../core/formats/model-open.ts';
import type { LlamaConfig, LlamaModel } from '../../core/model/model.ts';
import { numel } from '../../core/tensor.ts';
import type { TokenizerFiles } from '../../core/tokenizers/tokenizer-files.ts';
import { EngineError, type LoadProgress, type ModelPlan, type ModelSource } from '../engine-host/protocol.ts';
import { MAX_WHOLE_BYTES } from './http.ts';
import { ProgressTracker } from './progress.ts';
import { SourceFiles } from './registry.ts';
import { HF_BASE_URL, resolveSource, type Resolved, type SourceDeps } from './resolve.ts';

export interface SourceRun {
  deps: SourceDeps;
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

interface Described {
  desc: ModelDescription;
  tokenizer: ModelPlan['tokenizer'];
}

async function describe(r: Resolved): Promise<Described> {
  const desc =
    r.kind === 'folder'
      ? await describeHfFolder(r.folder)
      : await describeCheckpoint(r.checkpoint, { ggufWeights: GGUF_WEIGHTS });
  // A tokenizer file chosen beside the checkpoint wins over the one the file carries.
  const given = r.kind === 'checkpoint' ? r.tokenizer?.kind : undefined;
  return { desc: given ? { ...desc, chatTemplate: false } : desc, tokenizer: given ?? desc.tokenizer ?? 'missing' };
}

const withContext = (c: LlamaConfig, ctx: number): LlamaConfig => ({ ...c, seqLen: ctx });

function planOf(name: string, d: Described, files: SourceFiles, ctx: number, budget: DeviceBudget | null): ModelPlan {
  const list = files.list();
  const { desc } = d;
  return {
    name,
    format: desc.format,
    architecture: desc.architecture,
    config: desc.config,
    params: desc.params,
    fileBytes: list.reduce((n, f) => n + f.bytes, 0),
    files: list,
    tokenizer: d.tokenizer,
    chatTemplate: desc.chatTemplate,
    memory: planMemory(withContext(desc.config, ctx), desc.tensors, ctx, budget),
  };
}

/**
 * The page keeps a GGUF's Q8_0/Q4_0 linears as they are (our q8/q4, code for code): a Q4_0 file
 * then needs ~1× its size in memory, not ~7× as f32. Quantizers and charts read such a base
 * through its dequantized values (core/linear.ts weightValues).
 */
const GGUF_WEIGHTS = 'native' as const;

/** Reads headers only (progress: bytes read so far, the total known at the end) and plans the load. */
export async function inspectSource(
  source: ModelSource,
  contextLength: number | undefined,
  budget: DeviceBudget | null,
  run: SourceRun,
): Promise<ModelPlan> {
  const tracker = new ProgressTracker((p) => run.onProgress?.(p), { totals: false });
  const files = new SourceFiles(tracker, run.signal);
  const d = await describe(await resolveSource(source, files, run.deps));
  const plan = planOf(source.name, d, files, chooseContext(contextLength, d.desc.config.seqLen), budget);
  tracker.finish();
  return plan;
}

export interface LoadedSource extends OpenedModel {
  contextLength: number;
  ownContext: number; // the model's own (config.seqLen of the file); the model runs with contextLength
  /** The weights as the memory plan describes them (for the WebGPU check once the adapter is known). */
  tensors: TensorPlanEntry[];
  modelBytes: number;
  tokenizerBytes: number;
  fetchMs: number; // time spent waiting for bytes from the network ('url' and 'remote' sources)
}

/** Weight count of a model (by shape, whatever the format); a shared classifier is counted once. */
export function countParams(model: LlamaModel): number {
  const w = model.weights;
  let n = numel(w.tokEmb.shape) + numel(w.rmsFinal.shape);
  for (const l of w.layers) {
    for (const t of [l.rmsAtt, l.wq, l.wk, l.wv, l.wo, l.rmsFfn, l.w1, l.w2, l.w3]) n += numel(t.shape);
  }
  if (w.wcls !== w.tokEmb) n += numel(w.wcls.shape);
  return n;
}

/** Reads a URL whole (the embedded default model); failures are EngineError 'fetch-failed'. */
export async function fetchBytes(url: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new EngineError({ code: 'fetch-failed', message: `could not fetch ${url}: ${(e as Error).message}` });
  }
  if (!res.ok)
    throw new EngineError({
      code: 'fetch-failed',
      message: `could not fetch ${url}: HTTP ${res.status} ${res.statusText}`,
    });
  return new Uint8Array(await res.arrayBuffer());
}

const tokenizerSize = (t: TokenizerFiles) =>
  t.kind === 'llama2c' ? t.bytes.byteLength : t.json.byteLength + (t.config?.byteLength ?? 0);

/**
 * Loads `source`: headers first, then `check(config with the context, tensors, context)` (may
 * throw, e.g. 'too-large': nothing of the weights has been read yet), then the weights.
 */
export async function loadSource(
  source: ModelSource,
  contextLength: number | undefined,
  run: SourceRun,
  check: (config: LlamaConfig, tensors: TensorPlanEntry[], ctx: number) => void,
): Promise<LoadedSource> {
  const tracker = new ProgressTracker((p) => run.onProgress?.(p));
  const files = new SourceFiles(tracker, run.signal);
  files.caching = true;
  const t0 = globalThis.performance.now();
  const resolved = await resolveSource(source, files, run.deps);
  const resolveMs = globalThis.performance.now() - t0; // 'url' sources are fetched whole here
  const { desc, tokenizer } = await describe(resolved);
  files.caching = false;
  // Refused before a byte of the weights is read: no tokenizer, a context out of range, the plan.
  if (tokenizer === 'missing' && resolved.kind === 'checkpoint')
    throw new NibbleError('bad-argument', 'this checkpoint carries no tokenizer: choose its tokenizer .bin too');
  const ctx = chooseContext(contextLength, desc.config.seqLen);
  check(withContext(desc.config, ctx), desc.tensors, ctx);
  const opts = {
    chooseContext: () => ctx,
    ggufWeights: GGUF_WEIGHTS,
    onWeights: () => void (files.weightsStarted = true),
  };
  let opened: OpenedModel;
  try {
    opened =
      resolved.kind === 'folder'
        ? await openHfFolder(resolved.folder, opts)
        : await openCheckpoint(resolved.checkpoint, { ...opts, tokenizer: await resolved.tokenizer?.read() });
  } finally {
    files.clearCache();
  }
  files.check();
  tracker.finish();
  const list = files.list();
  return {
    ...opened,
    contextLength: ctx,
    ownContext: desc.config.seqLen,
    tensors: describeModelTensors(opened.model), // exact, as the runner uploads them
    modelBytes: list.filter((f) => f.role !== 'tokenizer').reduce((n, f) => n + f.bytes, 0),
    tokenizerBytes: tokenizerSize(opened.tokenizerFiles),
    fetchMs: source.kind === 'url' ? resolveMs : source.kind === 'remote' ? files.readMs : 0,
  };
}

// ---- the host's checks against the device (pure: the host passes its state in) ----

/** RAM hint in bytes from navigator.deviceMemory (GiB), or null. */
export const memoryHint = (deviceMemoryGiB: number | undefined): number | null =>
  typeof deviceMemoryGiB === 'number' && deviceMemoryGiB > 0 ? deviceMemoryGiB * 2 ** 30 : null;

/** What a held device offers a plan (null without one). */
export function deviceBudget(
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number } | null,
  deviceMemoryGiB: number | undefined,
): DeviceBudget | null {
  if (!limits) return null;
  const hint = memoryHint(deviceMemoryGiB);
  return {
    maxBufferSize: limits.maxBufferSize,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    memoryHintBytes: hint,
    ...(hint === null ? {} : { memoryHintSource: 'navigator.deviceMemory' }),
  };
}

/** Why a model (config with its context) must stay off this device, from the plan; null when it fits. */
export function gpuPlanFailure(
  config: LlamaConfig,
  tensors: TensorPlanEntry[],
  budget: DeviceBudget | null,
): string | null {
  if (!budget) return null;
  const p = planMemory(config, tensors, config.seqLen, budget);
  return p.verdict === 'too-large' ? `WebGPU is not used: it does not fit this GPU: ${p.reasons.join('; ')}` : null;
}

/** Refuses, before the weights are read, a model the CPU runner could not hold (weights + KV cache above the RAM hint). */
export function checkCpuMemory(
  deviceMemoryGiB: number | undefined,
): (config: LlamaConfig, tensors: TensorPlanEntry[], ctx: number) => void {
  return (config, tensors, ctx) => {
    const hint = memoryHint(deviceMemoryGiB);
    const p = planMemory(config, tensors, ctx, null);
    if (hint !== null && p.weightBytes + p.kvCacheBytes > hint) {
      const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
      throw new NibbleError(
        'too-large',
        `this model needs ${gib(p.weightBytes + p.kvCacheBytes)} of memory as loaded (weights + KV cache for ${ctx} positions); navigator.deviceMemory says this device has about ${gib(hint)}`,
      );
    }
  };
}

/** A SourceRun from the host's options (HostDeps); defaults: globalThis.fetch, huggingface.co, 1 GiB. */
export function sourceRun(
  d: {
    fetch?: typeof globalThis.fetch;
    hfBaseUrl?: string;
    maxWholeFetchBytes?: number;
    fetchBytes: (url: string) => Promise<Uint8Array>;
  },
  signal: AbortSignal,
  onProgress: (p: LoadProgress) => void,
): SourceRun {
  const deps: SourceDeps = {
    fetch: d.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    hfBaseUrl: d.hfBaseUrl ?? HF_BASE_URL,
    maxWholeBytes: d.maxWholeFetchBytes ?? MAX_WHOLE_BYTES,
    fetchBytes: d.fetchBytes,
    signal,
  };
  return { deps, signal, onProgress };
}
