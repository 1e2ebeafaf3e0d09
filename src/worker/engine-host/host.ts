// The engine host: answers protocol requests with the real engine. It runs inside the Web
// Worker (engine.worker.ts) and, unchanged, in Node tests and the in-thread transport.
//
// Invariants:
// - one model at a time; a load that fails leaves the previous model loaded and usable;
// - a model is usable as soon as it parses (CPU runner); the adapter request and the WebGPU
//   runner are finished in the background and the runner is swapped in between generations,
//   announced by a `model-updated` event;
// - at most one generation (or A/B pair) at a time; a load first cancels it, and every lab job
//   (lab.ts: variants, charts, truncation), and waits for them to end;
// - a runner is used by one caller at a time (SlotLocks: 'base' = the loaded model, 'v1'… the
//   variants); the WebGPU runner is swapped in while holding 'base';
// - the GPU context is requested once and reused; when its device is lost, the loss is posted
//   as an unsolicited error (id null), a WebGPU model is dropped, and the next load asks again.
import { isNibbleError, NibbleError } from '../../core/errors.ts';
import type { TensorPlanEntry } from '../../core/plan/memory-plan.ts';
import type { LlamaModel } from '../../core/model/model.ts';
import type { TextTokenizer } from '../../core/tokenizers/text-tokenizer.ts';
import { createCpuRunner } from '../../engine/cpu-runner.ts';
import type { ModelRunner } from '../../engine/runner.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { checkSettings, generateOn } from './generation.ts';
import { isSoftwareAdapter, summarizeGpu } from './gpu-summary.ts';
import { createLab, type LabBase } from './lab.ts';
import { BASE_VARIANT, type LabRequest } from './lab-protocol.ts';
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
import { SlotLocks } from './slot-lock.ts';
import {
  toWireError,
  type BackendPreference,
  type EngineInfo,
  type GpuSummary,
  type ModelInfo,
  type ModelSource,
  type Reply,
  type Request,
  type SamplingSettings,
  type ChatMessage,
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

export { countParams };

export type Post = (reply: Reply, transfer?: Transferable[]) => void;

export interface EngineHost {
  /** Handles one request; every outcome, errors included, is posted (never rejects). */
  handle(req: Request): Promise<void>;
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

/** Requests answered by the lab; every one can be cancelled by id. */
type LabJob = Exclude<LabRequest, { kind: 'generate-pair' }>;
const LAB_KINDS = new Set<string>([
  'quantize',
  'list-variants',
  'delete-variant',
  'export-variant',
  'export-model',
  'import-variant',
  'weight-histogram',
  'collisions',
  'outliers',
  'drift',
  'truncation-point',
]);
const isLabJob = (r: Request): r is LabJob => LAB_KINDS.has(r.kind);

const now = (): number => globalThis.performance.now();

export function createEngineHost(deps: HostDeps, post: Post): EngineHost {
  const fetchBytes = deps.fetchBytes ?? defaultFetchBytes;
  let gpu: GpuState = deps.gpu
    ? { status: 'untried' }
    : { status: 'unavailable', reason: 'navigator.gpu is missing: this browser has no WebGPU' };
  let loaded: Loaded | null = null;
  let preference: BackendPreference = 'auto';
  let running: { id: number; ctrl: AbortController; done: Promise<void> } | null = null;
  const jobs = new Map<number, { ctrl: AbortController; done: Promise<void> }>(); // lab jobs by request id
  const operations = new Map<number, { ctrl: AbortController }>(); // loads and inspects by request id
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
    const all = [...jobs.values()];
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
    post({ kind: 'error', id: null, error: { code: 'device-lost', message: wire.message } });
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

  const run = (id: number, signal: AbortSignal) =>
    sourceRun({ ...deps, fetchBytes }, signal, (progress) => post({ kind: 'job-progress', id, progress }));

  /**
   * Makes a model usable as soon as its weights are read, on the CPU. The adapter request
   * overlaps the reading; the WebGPU runner is built afterwards in the background (afterLoad),
   * unless the memory plan says the model does not fit the device.
   */
  async function load(
    id: number,
    source: ModelSource,
    pref: BackendPreference,
    contextLength: number | undefined,
    signal: AbortSignal,
  ): Promise<{ model: ModelInfo; engine: EngineInfo }> {
    const seq = ++loadSeq;
    // The adapter request (also with 'cpu': the GPU panel describes it) overlaps the reading; bytes in
    // memory parse first. afterLoad awaits it: a failed read must not leave it unhandled.
    let gpuReady = source.kind === 'bytes' ? null : ensureGpu();
    gpuReady?.catch(() => undefined);
    const t0 = now();
    const src = await loadSource(source, contextLength, run(id, signal), checkCpuMemory(deps.deviceMemoryGiB));
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
        post({
          kind: 'error',
          id: null,
          error: { code: wire.code, message: `${loaded.gpuFailure}. It keeps running on the CPU.` },
        });
      }
    } finally {
      runner?.dispose(); // built for a model that is no longer loaded
    }
    loaded = { ...loaded!, upgrading: false };
    post({ kind: 'event', id: null, event: { kind: 'model-updated', model: loaded.info, engine: engineInfo() } });
  }

  /** Runs a load or inspect that `cancel` can stop by its request id. */
  async function asOperation<T>(id: number, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctrl = new AbortController();
    operations.set(id, { ctrl });
    try {
      return await body(ctrl.signal);
    } finally {
      operations.delete(id);
    }
  }

  /** Runs `body` as the one generation in flight (cancellable by `id`). */
  async function asGeneration(id: number, body: (signal: AbortSignal) => Promise<void>): Promise<void> {
    if (!loaded) throw new NibbleError('bad-argument', 'no model is loaded yet');
    if (running) throw new NibbleError('bad-argument', `generation ${running.id} is still running; stop it first`);
    const ctrl = new AbortController();
    let finish!: () => void;
    running = { id, ctrl, done: new Promise<void>((r) => (finish = r)) };
    try {
      await body(ctrl.signal);
    } finally {
      running = null;
      finish();
    }
  }

  function runGeneration(
    id: number,
    prompt: string,
    settings: SamplingSettings,
    variant: string = BASE_VARIANT,
    messages?: ChatMessage[],
  ): Promise<void> {
    return asGeneration(id, async (signal) => {
      checkSettings(settings);
      const { tokenizer } = loaded!;
      const result = await locks.use(variant, async () =>
        generateOn(
          await lab.runner(variant),
          tokenizer,
          variant,
          prompt,
          settings,
          signal,
          (token) => post({ kind: 'progress', id, token }),
          messages,
        ),
      );
      post({ kind: 'response', id, request: 'generate', result });
    });
  }

  /** The same prompt and settings on two variants at once, both streaming (A/B chat). */
  function runPair(
    id: number,
    prompt: string,
    settings: SamplingSettings,
    variants: [string, string],
    messages?: ChatMessage[],
  ): Promise<void> {
    return asGeneration(id, async (signal) => {
      checkSettings(settings);
      if (!Array.isArray(variants) || variants.length !== 2 || variants[0] === variants[1]) {
        throw new NibbleError('bad-argument', 'A/B generation needs two different variants');
      }
      const { tokenizer } = loaded!;
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
            (token) => post({ kind: 'job-progress', id, progress: { kind: 'pair-token', side: s, token } }),
            messages,
          );
        return Promise.all([side(0), side(1)]);
      });
      post({ kind: 'response', id, request: 'generate-pair', result: { results } });
    });
  }

  /** A lab request as a cancellable job: progress replies, then its result (buffers transferred). */
  async function runJob(req: LabJob): Promise<void> {
    const ctrl = new AbortController();
    let finish!: () => void;
    jobs.set(req.id, { ctrl, done: new Promise<void>((r) => (finish = r)) });
    try {
      const { result, transfer } = await lab.handle(
        req,
        (progress) => post({ kind: 'job-progress', id: req.id, progress }),
        ctrl.signal,
      );
      post({ kind: 'response', id: req.id, request: req.kind, result } as Reply, transfer);
    } finally {
      jobs.delete(req.id);
      finish();
    }
  }

  async function handle(req: Request): Promise<void> {
    try {
      switch (req.kind) {
        case 'get-info':
          await ensureGpu();
          post({ kind: 'response', id: req.id, request: 'get-info', result: engineInfo() });
          return;
        case 'load': {
          // Loads run one after another, in the order they arrived; each can be cancelled by id.
          const result = await asOperation(req.id, (signal) => {
            const job = loadChain.then(() => load(req.id, req.source, req.backend, req.contextLength, signal));
            loadChain = job.catch(() => undefined);
            return job;
          });
          post({ kind: 'response', id: req.id, request: 'load', result });
          return;
        }
        case 'inspect': {
          await ensureGpu().catch(() => undefined); // the plan is against this device's limits when there is one
          const result = await asOperation(req.id, (signal) =>
            inspectSource(req.source, req.contextLength, budget(), run(req.id, signal)),
          );
          post({ kind: 'response', id: req.id, request: 'inspect', result });
          return;
        }
        case 'generate':
          await runGeneration(req.id, req.prompt, req.settings, req.variant, req.messages);
          return;
        case 'generate-pair':
          await runPair(req.id, req.prompt, req.settings, req.variants, req.messages);
          return;
        case 'cancel': {
          const target =
            running !== null && running.id === req.target
              ? running
              : (jobs.get(req.target) ?? operations.get(req.target));
          target?.ctrl.abort();
          post({ kind: 'response', id: req.id, request: 'cancel', result: { cancelled: target !== undefined } });
          return;
        }
        default: {
          if (isLabJob(req)) return await runJob(req);
          const unknown: { kind?: unknown; id?: unknown } = req;
          throw new NibbleError('bad-argument', `unknown request kind ${String(unknown.kind)}`);
        }
      }
    } catch (e) {
      const id = typeof (req as { id?: unknown }).id === 'number' ? req.id : null;
      post({ kind: 'error', id, error: toWireError(e) });
    }
  }

  return {
    handle,
    dispose() {
      disposed = true;
      running?.ctrl.abort();
      operations.forEach((o) => o.ctrl.abort());
      jobs.forEach((j) => j.ctrl.abort());
      lab.dispose();
      loaded?.runner.dispose();
      loaded = null;
      if (gpu.status === 'ready') gpu.ctx.destroy();
    },
  };
}
