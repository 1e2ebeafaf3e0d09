// The engine session: one loaded model, its runners and the lab beside it, behind typed methods.
// host.ts answers protocol messages with it (in the Web Worker and in-thread); tests may call it
// directly. It stays in src/worker because loads read the worker's model sources.
//
// Invariants:
// - one model at a time; a load that fails leaves the previous model loaded and usable; loads
//   run one after another, in the order they were asked;
// - a model is usable as soon as it parses (CPU runner); the adapter request and the WebGPU
//   runner are finished in the background and the runner is swapped in between generations,
//   announced by a `model-updated` event;
// - at most one generation (or A/B pair) at a time; a load first cancels it, and every lab job
//   (variants, charts, truncation), and waits for them to end;
// - a runner is used by one caller at a time (SlotLocks: 'base' = the loaded model, 'v1'… the
//   variants); the WebGPU runner is swapped in while holding 'base';
// - the GPU context is requested once and reused; when its device is lost, the loss is emitted
//   as an error event, a WebGPU model is dropped, and the next load asks again.
import { isNibbleError, NibbleError } from '../../core/errors.ts';
import type { LlamaModel } from '../../core/model/model.ts';
import type { TensorPlanEntry } from '../../core/plan/memory-plan.ts';
import type { TextTokenizer } from '../../core/tokenizers/text-tokenizer.ts';
import { createCpuRunner } from '../../engine/cpu-runner.ts';
import { createLab, type Lab } from '../../engine/lab/lab.ts';
import { BASE_VARIANT, type LabBase } from '../../engine/lab/lab-types.ts';
import { SlotLocks } from '../../engine/lab/slot-lock.ts';
import type { ModelRunner } from '../../engine/runner.ts';
import type { GpuContext } from '../../gpu/device.ts';
import {
  checkCpuMemory,
  countParams,
  deviceBudget,
  fetchBytes as defaultFetchBytes,
  gpuPlanFailure,
  inspectSource,
  loadSource,
  sourceRun,
} from '../sources/model-source.ts';
import { checkSettings, generateOn } from './generation.ts';
import { isSoftwareAdapter, summarizeGpu } from './gpu-summary.ts';
import type { PairResult } from './lab-protocol.ts';
import {
  toWireError,
  type BackendPreference,
  type ChatMessage,
  type EngineEvent,
  type EngineInfo,
  type GenerationSummary,
  type GpuSummary,
  type LoadProgress,
  type ModelInfo,
  type ModelPlan,
  type ModelSource,
  type SamplingSettings,
  type TokenProgress,
} from './protocol.ts';

export interface HostDeps {
  /** navigator.gpu where the host runs; undefined → CPU only. */
  gpu?: GPU;
  /** Reads a URL into bytes; defaults to fetch(), which throws EngineError 'fetch-failed'. */
  fetchBytes?: (url: string) => Promise<Uint8Array>;
  /**
   * Whether lab evaluations (drift, truncation points) run on the GPU. Default: yes, unless the
   * adapter is a software renderer (SwiftShader, llvmpipe), where the CPU twin is much faster.
   */
  labEvalOnGpu?: boolean;
  /** fetch() for 'remote' sources (HTTP Range requests); defaults to globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
  /** Where Hugging Face repo ids resolve (tests point it at a local server); default https://huggingface.co. */
  hfBaseUrl?: string;
  /** navigator.deviceMemory (GiB) where the host runs: a hint about the RAM (which integrated GPUs share). */
  deviceMemoryGiB?: number;
  /** Largest file read whole from a server that ignores Range requests; default 1 GiB. */
  maxWholeFetchBytes?: number;
}

/** Options of a load or inspect: the context to plan for, cancellation, bytes read so far. */
export interface SourceOptions {
  contextLength?: number;
  signal: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
}

/** Options of a generation; `id` (the caller's request id) is named when another one is refused. */
export interface GenerationOptions {
  signal: AbortSignal;
  id?: number;
  messages?: ChatMessage[];
}

export interface EngineSession {
  /** What the engine holds; waits for the adapter request (asked for on the first call). */
  info(): Promise<EngineInfo>;
  load(
    source: ModelSource,
    backend: BackendPreference,
    opts: SourceOptions,
  ): Promise<{ model: ModelInfo; engine: EngineInfo }>;
  /** Headers only: the plan against this device's limits (when there is one); loads nothing. */
  inspect(source: ModelSource, opts: SourceOptions): Promise<ModelPlan>;
  generate(
    prompt: string,
    settings: SamplingSettings,
    variant: string,
    opts: GenerationOptions & { onToken: (t: TokenProgress) => void },
  ): Promise<GenerationSummary>;
  /** The same prompt and settings on two variants at once, both streaming (A/B chat). */
  generatePair(
    prompt: string,
    settings: SamplingSettings,
    variants: [string, string],
    opts: GenerationOptions & { onToken: (side: 0 | 1, t: TokenProgress) => void },
  ): Promise<PairResult>;
  /** Runs `body` on the lab as a job that a load (or the loss of a WebGPU model's device) cancels. */
  labJob<T>(signal: AbortSignal, body: (lab: Lab, signal: AbortSignal) => Promise<T>): Promise<T>;
  dispose(): void;
}

type GpuState =
  | { status: 'untried' }
  | { status: 'pending'; ready: Promise<void> }
  | { status: 'ready'; ctx: GpuContext; summary: GpuSummary }
  | { status: 'unavailable'; reason: string };

interface Loaded {
  seq: number; // which load produced it
  runner: ModelRunner; // CPU first; the WebGPU runner replaces it when built
  tokenizer: TextTokenizer;
  info: ModelInfo;
  tensors: TensorPlanEntry[]; // its weights as the memory plan sees them (the WebGPU check)
  upgrading: boolean; // a WebGPU runner is being built for it
  gpuFailure: string | null; // why its WebGPU runner could not be built
  lab: LabBase; // the fp32 model and tokenizer bytes the lab quantizes and exports (one object per load)
}

/** Work the session can stop itself: its controller (linked to the caller's signal) and its end. */
interface Stoppable {
  ctrl: AbortController;
  done: Promise<void>;
}

const now = (): number => globalThis.performance.now();

/** Runs `body` under a controller of its own that `outer` also aborts; registers it while it runs. */
async function stoppable<T>(
  outer: AbortSignal,
  register: (s: Stoppable) => () => void,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  if (outer.aborted) ctrl.abort();
  else outer.addEventListener('abort', onAbort, { once: true });
  let finish!: () => void;
  const unregister = register({ ctrl, done: new Promise<void>((r) => (finish = r)) });
  try {
    return await body(ctrl.signal);
  } finally {
    outer.removeEventListener('abort', onAbort);
    unregister();
    finish();
  }
}

export function createEngineSession(deps: HostDeps, emit: (e: EngineEvent) => void): EngineSession {
  const fetchBytes = deps.fetchBytes ?? defaultFetchBytes;
  let gpu: GpuState = deps.gpu
    ? { status: 'untried' }
    : { status: 'unavailable', reason: 'navigator.gpu is missing: this browser has no WebGPU' };
  let loaded: Loaded | null = null;
  let preference: BackendPreference = 'auto';
  let running: (Stoppable & { id: number | undefined }) | null = null; // the generation in flight
  const jobs = new Set<Stoppable>(); // lab jobs
  let loadChain: Promise<unknown> = Promise.resolve();
  let loadSeq = 0;
  let disposed = false;
  const locks = new SlotLocks();
  const lab = createLab({
    base: () => loaded?.lab ?? null,
    baseRunner: () => loaded?.runner ?? null,
    gpu: () =>
      gpu.status === 'ready' && preference === 'auto' && loaded !== null && !loaded.gpuFailure ? gpu.ctx : null,
    evalOnGpu: () => gpu.status === 'ready' && (deps.labEvalOnGpu ?? !isSoftwareAdapter(gpu.summary.adapter)),
    fetchBytes: (url) => fetchBytes(url),
    locks,
  });

  /** Cancels every lab job and waits for them to end. */
  async function stopJobs(): Promise<void> {
    const all = [...jobs];
    all.forEach((j) => j.ctrl.abort());
    await Promise.all(all.map((j) => j.done));
  }

  /** Requests the GPU context once; afterwards `gpu` is 'ready' or 'unavailable'. */
  async function ensureGpu(): Promise<void> {
    if (gpu.status === 'pending') return gpu.ready;
    if (gpu.status !== 'untried' || !deps.gpu) return;
    const navGpu = deps.gpu;
    const ready = (async () => {
      try {
        const { requestGpuContext } = await import('../../gpu/device.ts');
        const ctx = await requestGpuContext(navGpu);
        gpu = { status: 'ready', ctx, summary: summarizeGpu(ctx) };
        void ctx.lost.then((err) => onDeviceLost(ctx, err));
      } catch (e) {
        if (!isNibbleError(e)) throw e;
        gpu = { status: 'unavailable', reason: e.message };
      }
    })();
    gpu = { status: 'pending', ready };
    try {
      await ready;
    } catch (e) {
      gpu = { status: 'unavailable', reason: toWireError(e).message };
      throw e;
    }
  }

  function onDeviceLost(ctx: GpuContext, err: unknown): void {
    if (disposed || gpu.status !== 'ready' || gpu.ctx !== ctx) return;
    const wire = toWireError(err);
    gpu = { status: 'untried' }; // the next load asks for a fresh device
    lab.deviceLost();
    if (loaded?.runner.backend === 'webgpu') {
      running?.ctrl.abort();
      jobs.forEach((j) => j.ctrl.abort());
      loaded = null; // its buffers died with the device; dispose() would touch a lost device
      lab.reset();
    }
    emit({ kind: 'error', error: { code: 'device-lost', message: wire.message } });
  }

  function engineInfo(): EngineInfo {
    const gpuUnavailable = gpu.status === 'unavailable' ? gpu.reason : (loaded?.gpuFailure ?? null);
    const backend = loaded?.runner.backend ?? (preference === 'auto' && gpu.status === 'ready' ? 'webgpu' : 'cpu');
    return {
      backend,
      gpu: gpu.status === 'ready' ? gpu.summary : null,
      gpuChecking: gpu.status === 'pending',
      gpuUnavailable,
      upgrading: loaded?.upgrading ?? false,
      model: loaded?.info ?? null,
    };
  }

  const budget = () => deviceBudget(gpu.status === 'ready' ? gpu.ctx.limits : null, deps.deviceMemoryGiB);
  const planFailure = (l: Loaded) => gpuPlanFailure(l.info.config, l.tensors, budget());

  const run = (opts: SourceOptions) =>
    sourceRun({ ...deps, fetchBytes }, opts.signal, (progress) => opts.onProgress?.(progress));

  /**
   * Makes a model usable as soon as its weights are read, on the CPU. The adapter request
   * overlaps the reading; the WebGPU runner is built afterwards in the background (afterLoad),
   * unless the memory plan says the model does not fit the device.
   */
  async function loadNow(
    source: ModelSource,
    pref: BackendPreference,
    opts: SourceOptions,
  ): Promise<{ model: ModelInfo; engine: EngineInfo }> {
    const seq = ++loadSeq;
    // The adapter request (also with 'cpu': the GPU panel describes it) overlaps the reading; bytes in
    // memory parse first. afterLoad awaits it: a failed read must not leave it unhandled.
    let gpuReady = source.kind === 'bytes' ? null : ensureGpu();
    gpuReady?.catch(() => undefined);
    const t0 = now();
    const src = await loadSource(source, opts.contextLength, run(opts), checkCpuMemory(deps.deviceMemoryGiB));
    const t1 = now();
    const cpuRunner = createCpuRunner(src.model); // may refuse (a KV cache too large): the old model stays
    gpuReady ??= ensureGpu();
    gpuReady.catch(() => undefined);
    // The new model is valid: retire the old one (after its generation, if any, has ended).
    if (running) {
      running.ctrl.abort();
      await running.done;
    }
    await stopJobs();
    lab.reset();
    loaded?.runner.dispose();
    preference = pref;
    const gpuPending = gpu.status === 'pending';
    const gpuPossible = gpuPending || gpu.status === 'ready';
    const { model, tokenizer, tokenizerFiles } = src;
    const info: ModelInfo = {
      name: source.name,
      format: src.format,
      architecture: src.architecture,
      chatTemplate: src.chatTemplate !== undefined,
      config: model.config,
      params: countParams(model),
      modelBytes: src.modelBytes,
      tokenizerBytes: src.tokenizerBytes,
      backend: 'cpu',
      loadMs: t1 - t0 - src.fetchMs,
      fetchMs: src.fetchMs,
      gpuMs: null,
    };
    // HF tokenizers have no tokenizer.bin: their files travel in tokenizerFiles (.nibble export embeds them).
    const tokBytes = tokenizerFiles.kind === 'llama2c' ? tokenizerFiles.bytes.slice() : new Uint8Array(0);
    const labBase: LabBase = {
      name: source.name,
      model,
      tokenizer,
      tokBytes,
      tokenizerFiles,
      ownContext: src.ownContext,
    };
    loaded = {
      seq,
      runner: cpuRunner,
      tokenizer,
      info,
      tensors: src.tensors,
      upgrading: pref === 'auto' && gpuPossible,
      gpuFailure: null,
      lab: labBase,
    };
    const tooLarge = loaded.upgrading ? planFailure(loaded) : null; // null until the device is known
    if (tooLarge) loaded = { ...loaded, upgrading: false, gpuFailure: tooLarge };
    const result = { model: info, engine: engineInfo() };
    if (loaded.upgrading || gpuPending) void afterLoad(seq, model, t0, gpuReady);
    return result;
  }

  /**
   * Finishes load `seq` in the background: waits for the adapter and, with the 'auto'
   * preference, builds the WebGPU runner and swaps it in once no generation is running. A newer
   * load makes it obsolete. Ends with a `model-updated` event (after an error event on failure).
   */
  async function afterLoad(seq: number, model: LlamaModel, t0: number, gpuReady: Promise<void>): Promise<void> {
    const current = () => !disposed && loaded !== null && loaded.seq === seq;
    let runner: ModelRunner | null = null;
    try {
      await gpuReady;
      if (!current()) return;
      const tooLarge = loaded!.upgrading ? planFailure(loaded!) : null; // no runner that would not fit
      if (tooLarge) loaded = { ...loaded!, upgrading: false, gpuFailure: tooLarge };
      if (loaded!.upgrading) {
        if (gpu.status !== 'ready')
          throw new NibbleError('no-webgpu', gpu.status === 'unavailable' ? gpu.reason : 'the GPU device went away');
        const { createGpuRunner } = await import('../../engine/gpu-runner.ts');
        runner = await createGpuRunner(gpu.ctx, model);
        // The turn (or evaluation pass) in flight finishes on the CPU: swap while holding 'base'.
        await locks.use(BASE_VARIANT, async () => {
          if (!current() || !runner) return;
          loaded!.runner.dispose();
          loaded = {
            ...loaded!,
            runner,
            upgrading: false,
            info: { ...loaded!.info, backend: 'webgpu', gpuMs: now() - t0 },
          };
          runner = null;
        });
        if (!current()) return;
        lab.baseRunnerChanged();
      }
    } catch (e) {
      if (!current()) return;
      const wire = toWireError(e);
      if (wire.code !== 'no-webgpu') {
        loaded = { ...loaded!, gpuFailure: `WebGPU could not run this model (${wire.code}): ${wire.message}` };
        emit({
          kind: 'error',
          error: { code: wire.code, message: `${loaded.gpuFailure}. It keeps running on the CPU.` },
        });
      }
    } finally {
      runner?.dispose(); // built for a model that is no longer loaded
    }
    loaded = { ...loaded!, upgrading: false };
    emit({ kind: 'model-updated', model: loaded.info, engine: engineInfo() });
  }

  /** Runs `body` as the one generation in flight (stopped by `opts.signal`, a load or a lost device). */
  function asGeneration<T>(
    opts: GenerationOptions,
    body: (loaded: Loaded, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (!loaded) return Promise.reject(new NibbleError('bad-argument', 'no model is loaded yet'));
    if (running) {
      const which = running.id === undefined ? 'a generation' : `generation ${running.id}`;
      return Promise.reject(new NibbleError('bad-argument', `${which} is still running; stop it first`));
    }
    const current = loaded;
    return stoppable(
      opts.signal,
      (s) => {
        running = { ...s, id: opts.id };
        return () => (running = null);
      },
      (signal) => body(current, signal),
    );
  }

  return {
    async info() {
      await ensureGpu();
      return engineInfo();
    },

    load(source, backend, opts) {
      const job = loadChain.then(() => loadNow(source, backend, opts));
      loadChain = job.catch(() => undefined);
      return job;
    },

    async inspect(source, opts) {
      await ensureGpu().catch(() => undefined); // the plan is against this device's limits when there is one
      return inspectSource(source, opts.contextLength, budget(), run(opts));
    },

    generate(prompt, settings, variant, opts) {
      return asGeneration(opts, async ({ tokenizer }, signal) => {
        checkSettings(settings);
        return locks.use(variant, async () =>
          generateOn(
            await lab.runner(variant),
            tokenizer,
            variant,
            prompt,
            settings,
            signal,
            opts.onToken,
            opts.messages,
          ),
        );
      });
    },

    generatePair(prompt, settings, variants, opts) {
      return asGeneration(opts, async ({ tokenizer }, signal) => {
        checkSettings(settings);
        if (!Array.isArray(variants) || variants.length !== 2 || variants[0] === variants[1]) {
          throw new NibbleError('bad-argument', 'A/B generation needs two different variants');
        }
        const results = await locks.useAll(variants, async () => {
          const runners = [await lab.runner(variants[0]), await lab.runner(variants[1])];
          const side = (s: 0 | 1) =>
            generateOn(
              runners[s],
              tokenizer,
              variants[s],
              prompt,
              settings,
              signal,
              (token) => opts.onToken(s, token),
              opts.messages,
            );
          return Promise.all([side(0), side(1)]);
        });
        return { results };
      });
    },

    labJob(signal, body) {
      return stoppable(
        signal,
        (s) => {
          jobs.add(s);
          return () => jobs.delete(s);
        },
        (jobSignal) => body(lab, jobSignal),
      );
    },

    dispose() {
      disposed = true;
      running?.ctrl.abort();
      jobs.forEach((j) => j.ctrl.abort());
      lab.dispose();
      loaded?.runner.dispose();
      loaded = null;
      if (gpu.status === 'ready') gpu.ctx.destroy();
    },
  };
}
