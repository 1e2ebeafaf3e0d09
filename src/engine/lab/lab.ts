// The lab: quantized variants of the loaded model, held side by side in the worker, and the
// playground's jobs on them (lab-protocol.ts). Runners are built lazily per variant (WebGPU when
// the host's device is in use, else the CPU twin) and used under the variant's slot lock. The
// quantizers, the truncation kernels and the collision histogram run on the GPU (GpuQuantizer)
// when there is a device, on their CPU twins otherwise or when the GPU path fails.
import { isNibbleError, NibbleError } from '../../core/errors.ts';
import { textWindows } from '../../core/model/metrics.ts';
import type { LlamaConfig, LlamaModel } from '../../core/model/model.ts';
import { writeNibbleFile } from '../../core/formats/nibble-file.ts';
import { readNibbleFile } from '../../core/formats/nibble-file-read.ts';
import type { UniformQuantTensor } from '../../core/quant/format.ts';
import { codeHistogram } from '../../core/quant/histogram.ts';
import { quantizeTensor } from '../../core/quant/quantize-tensor.ts';
import type { TextTokenizer } from '../../core/tokenizers/text-tokenizer.ts';
import { createCpuRunner } from '../../engine/cpu-runner.ts';
import type { GpuQuantizer } from '../../engine/gpu-quantize.ts';
import { DEFAULT_SPEC, needsCalibration, type QuantSpec } from '../../core/quant/quant-spec.ts';
import { quantizeModel, type QuantizeProgress } from '../../engine/quantize.ts';
import type { ModelRunner } from '../../engine/runner.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { driftOf, ReferenceCache, truncationPoint } from './lab-eval.ts';
import { exportHeld, exportIssuesOf, tokenizerFilesOf } from './lab-export.ts';
import {
  BASE_VARIANT,
  type JobProgress,
  type LabRequest,
  type LabResultMap,
  type TextSources,
  type VariantInfo,
  type VariantMeta,
} from './lab-protocol.ts';
import {
  activationMaxima,
  collisionConfigs,
  footprint,
  linearWeight,
  loadedLabel,
  summarizeCodes,
  weightHistogram,
  type CodeCounter,
} from './lab-stats.ts';
import type { SlotLocks } from './slot-lock.ts';

/** The loaded model as the lab sees it. */
export interface LabBase {
  name: string;
  model: LlamaModel; // fp32, as loaded
  tokenizer: TextTokenizer;
  tokBytes: Uint8Array; // embedded into exported variants
  /** The files the tokenizer was made from (HF models: tokenizer.json + config; tokBytes is then empty). */
  tokenizerFiles?: import('../../core/tokenizers/tokenizer-files.ts').TokenizerFiles;
  /** The model's own context; it runs with a shorter one (config.seqLen), downloads carry this one. */
  ownContext?: number;
}

export interface LabDeps {
  base(): LabBase | null;
  baseRunner(): ModelRunner | null;
  /** The device lab work may use (held, 'auto' preference), else null. */
  gpu(): GpuContext | null;
  /**
   * Whether evaluations (drift, truncation points) run on that device too. False on software
   * adapters (SwiftShader, llvmpipe), where the CPU twin evaluates many times faster.
   */
  evalOnGpu(): boolean;
  fetchBytes(url: string): Promise<Uint8Array>;
  locks: SlotLocks;
}

type LabKind = Exclude<LabRequest['kind'], 'generate-pair'>;
export type LabAnswer = { result: LabResultMap[LabKind]; transfer?: Transferable[] };

export interface Lab {
  /** Answers one lab request (not generate-pair, which the host runs with its generations). */
  handle(
    req: Exclude<LabRequest, { kind: 'generate-pair' }>,
    progress: (p: JobProgress) => void,
    signal: AbortSignal,
  ): Promise<LabAnswer>;
  /** The runner of a variant; the caller holds the variant's slot lock. */
  runner(variant: string): Promise<ModelRunner>;
  /** The loaded model changed: every variant and cache is dropped (the host has stopped the jobs). */
  reset(): void;
  /** The loaded model moved to another runner: cached fp32 outputs and CPU runners are rebuilt. */
  baseRunnerChanged(): void;
  /** The device is gone: GPU runners are forgotten (their buffers died with it). */
  deviceLost(): void;
  dispose(): void;
}

interface Variant {
  info: VariantInfo;
  model: LlamaModel;
  runner: ModelRunner | null; // chat / A/B (WebGPU when there is a device)
  cpuRunner: ModelRunner | null; // evaluations when they run on the CPU
}

const TRUNC_BASE: QuantSpec = { ...DEFAULT_SPEC, method: 'trunc' };
/** Slot of the GpuQuantizer: its recorder is shared, so one job quantizes at a time. */
const QUANTIZER = '#quantizer';

const uniformOpts = (bits: number, granularity: 'tensor' | 'row' | 'group', group: number, sym: boolean) => ({
  format: `q${bits}` as 'q4',
  granularity,
  group: granularity === 'group' ? group : undefined,
  sym,
});

/** The CPU twins of the quantizer and of the histogram_codes kernel. */
const CPU_COUNTER: CodeCounter = {
  backend: 'cpu',
  quantize: async (w, bits, g, group, sym) => quantizeTensor(w, uniformOpts(bits, g, group, sym)) as UniformQuantTensor,
  histogram: async (t, w) => codeHistogram(t, w),
};

const sameShape = (a: LlamaConfig, b: LlamaConfig) =>
  (['dim', 'hiddenDim', 'nLayers', 'nHeads', 'nKvHeads', 'vocabSize', 'seqLen'] as const).every((k) => a[k] === b[k]);

/** GPU failures worth retrying on the CPU twin (not the user's cancel or a bad spec). */
const retryOnCpu = (e: unknown) => !(isNibbleError(e) && (e.code === 'cancelled' || e.code === 'bad-argument'));

export function createLab(deps: LabDeps): Lab {
  const variants = new Map<string, Variant>();
  let nextVariant = 1;
  const texts = new Map<string, Promise<number[][]>>(); // url → windows of the loaded model
  let quantizer: { ctx: GpuContext; q: GpuQuantizer } | null = null;
  let cpuBase: { model: LlamaModel; runner: ModelRunner } | null = null; // the fp32 model for CPU evaluations

  const requireBase = (): LabBase => {
    const b = deps.base();
    if (!b) throw new NibbleError('bad-argument', 'no model is loaded yet');
    return b;
  };

  const baseInfo = (b: LabBase): VariantInfo => ({
    id: BASE_VARIANT,
    spec: { ...DEFAULT_SPEC },
    baseModel: b.name,
    origin: 'loaded',
    ...footprint(b.model),
    ...loadedLabel(b.model),
    seconds: 0,
    report: null,
    exportIssues: exportIssuesOf(b.model, tokenizerFilesOf(b)),
  });

  /** The loaded model or a variant, by id. */
  const held = (id: string): { info: VariantInfo; model: LlamaModel } => {
    const b = requireBase();
    const v = id === BASE_VARIANT ? { info: baseInfo(b), model: b.model } : variants.get(id);
    if (!v) throw new NibbleError('bad-argument', `no variant '${id}' (it was deleted, or the model was reloaded)`);
    return v;
  };

  async function gpuQuantizer(): Promise<GpuQuantizer | null> {
    const ctx = deps.gpu();
    if (!ctx) return null;
    if (quantizer?.ctx !== ctx) {
      quantizer?.q.dispose();
      const { GpuQuantizer } = await import('../../engine/gpu-quantize.ts');
      quantizer = { ctx, q: new GpuQuantizer(ctx) };
    }
    return quantizer.q;
  }

  /** A runner for `model`: WebGPU when the device is in use (CPU if this model cannot run there). */
  async function build(model: LlamaModel, gpu = true): Promise<ModelRunner> {
    const ctx = gpu ? deps.gpu() : null;
    if (ctx) {
      try {
        const { createGpuRunner } = await import('../../engine/gpu-runner.ts');
        return await createGpuRunner(ctx, model);
      } catch (e) {
        if (!isNibbleError(e) || (e.code !== 'unsupported' && e.code !== 'too-large')) throw e;
      }
    }
    return createCpuRunner(model);
  }

  async function runner(id: string): Promise<ModelRunner> {
    if (id === BASE_VARIANT) {
      const r = deps.baseRunner();
      if (!r) throw new NibbleError('bad-argument', 'no model is loaded yet');
      return r;
    }
    const v = variants.get(id);
    if (!v) throw new NibbleError('bad-argument', `no variant '${id}' (it was deleted, or the model was reloaded)`);
    if (v.runner && (v.runner.backend === 'webgpu' || !deps.gpu())) return v.runner;
    v.runner?.dispose();
    v.runner = null;
    v.runner = await build(v.model);
    return v.runner;
  }

  /** The runner evaluations of a slot use: its own runner, or a CPU twin when evaluations stay on the CPU. */
  async function evalRunner(id: string): Promise<ModelRunner> {
    if (evalOnChatRunners()) return runner(id);
    if (id === BASE_VARIANT) {
      const b = requireBase();
      if (cpuBase?.model !== b.model) cpuBase = { model: b.model, runner: createCpuRunner(b.model) };
      return cpuBase.runner;
    }
    const v = variants.get(id);
    if (!v) throw new NibbleError('bad-argument', `no variant '${id}' (it was deleted, or the model was reloaded)`);
    v.cpuRunner ??= createCpuRunner(v.model);
    return v.cpuRunner;
  }

  /** Token windows of a text (evaluation.md protocol), cached per URL for the loaded model. */
  function windowsOf(url: string): Promise<number[][]> {
    let w = texts.get(url);
    if (!w) {
      const b = requireBase();
      const seq = Math.min(256, b.model.config.seqLen);
      w = deps.fetchBytes(url).then((bytes) => textWindows(b.tokenizer, new TextDecoder().decode(bytes), seq));
      w.catch(() => texts.delete(url));
      texts.set(url, w);
    }
    return w;
  }

  const evalOnChatRunners = () => !deps.gpu() || deps.evalOnGpu();
  const evalDeps = {
    locks: deps.locks,
    runner: evalRunner,
    slot: (id: string) => (evalOnChatRunners() ? id : `cpu:${id}`),
  };
  const refs = new ReferenceCache(evalDeps);

  /** quantizeModel on the GPU quantizer when there is one (holding its slot), else or on failure the CPU twins. */
  function quantizeOnce(
    model: LlamaModel,
    spec: QuantSpec,
    opts: Omit<NonNullable<Parameters<typeof quantizeModel>[2]>, 'gpu'>,
  ) {
    return deps.locks.use(QUANTIZER, async () => {
      const gpu = await gpuQuantizer();
      try {
        return await quantizeModel(model, spec, { ...opts, gpu: gpu ?? undefined });
      } catch (e) {
        if (!gpu || !retryOnCpu(e)) throw e;
        return quantizeModel(model, spec, opts);
      }
    });
  }

  async function quantize(
    spec: QuantSpec,
    text: TextSources,
    progress: (p: JobProgress) => void,
    signal: AbortSignal,
  ): Promise<VariantInfo> {
    const b = requireBase();
    const calibration = needsCalibration(spec.method) || spec.method === 'llmint8' ? await windowsOf(text.calib) : [];
    const onProgress = (p: QuantizeProgress) => progress({ kind: 'quantize', ...p });
    const out = await quantizeOnce(b.model, spec, { calibration, onProgress, signal });
    if (deps.base() !== b) throw new NibbleError('cancelled', 'the model was replaced while quantizing');
    const { report } = out;
    const id = `v${nextVariant++}`;
    const info: VariantInfo = {
      id,
      label: report.label,
      spec,
      baseModel: b.name,
      origin: 'quantized',
      weightBytes: report.weightBytes,
      linearBytes: report.linearBytes,
      bitsPerWeight: report.bitsPerWeight,
      nominalBits: report.nominalBits,
      seconds: report.seconds,
      report,
      exportIssues: exportIssuesOf(out.model, tokenizerFilesOf(b)),
    };
    variants.set(id, { info, model: out.model, runner: null, cpuRunner: null });
    return info;
  }

  function importVariant(bytes: ArrayBuffer, meta: Partial<VariantMeta> = {}): VariantInfo {
    const b = requireBase();
    const file = readNibbleFile(new Uint8Array(bytes));
    if (meta.baseModel && meta.baseModel !== b.name)
      throw new NibbleError(
        'bad-argument',
        `this variant was made from ${meta.baseModel}; load ${meta.baseModel} first (${b.name} is loaded)`,
      );
    if (!sameShape(file.model.config, b.model.config))
      throw new NibbleError('bad-argument', `this variant's shape does not match the loaded model ${b.name}`);
    const spec = { ...DEFAULT_SPEC, ...((meta.spec ?? file.spec ?? {}) as Partial<QuantSpec>) };
    const fp = footprint(file.model);
    const report = meta.report ?? null;
    const id = `v${nextVariant++}`;
    const info: VariantInfo = {
      id,
      label: meta.label ?? file.label ?? 'imported',
      spec,
      baseModel: b.name,
      origin: 'imported',
      ...fp,
      nominalBits: report?.nominalBits ?? fp.bitsPerWeight,
      seconds: report?.seconds ?? 0,
      report,
      exportIssues: exportIssuesOf(file.model, tokenizerFilesOf(b)),
    };
    variants.set(id, { info, model: file.model, runner: null, cpuRunner: null });
    return info;
  }

  /** The collision histogram on the GPU (quantize + histogram_codes kernels) when there is a device. */
  async function codeCounter(): Promise<CodeCounter> {
    const gpu = await gpuQuantizer();
    if (!gpu) return CPU_COUNTER;
    return {
      backend: 'webgpu',
      quantize: async (w, bits, g, group, sym) =>
        (await gpu.quantizeTensor(w, uniformOpts(bits, g, group, sym))) as UniformQuantTensor,
      histogram: (t, w) => gpu.histogram(t, w),
    };
  }

  async function handle(
    req: Parameters<Lab['handle']>[0],
    progress: (p: JobProgress) => void,
    signal: AbortSignal,
  ): Promise<LabAnswer> {
    const check = () => {
      if (signal.aborted) throw new NibbleError('cancelled', `${req.kind} cancelled`);
    };
    switch (req.kind) {
      case 'quantize':
        return { result: await quantize(req.spec, req.text, progress, signal) };
      case 'list-variants': {
        const b = deps.base();
        return { result: b ? [baseInfo(b), ...[...variants.values()].map((v) => v.info)] : [] };
      }
      case 'delete-variant': {
        if (req.variant === BASE_VARIANT)
          throw new NibbleError('bad-argument', 'the loaded model cannot be deleted; load another model instead');
        const v = variants.get(req.variant);
        if (!v) return { result: { deleted: false } };
        variants.delete(req.variant);
        await deps.locks.use(req.variant, async () => v.runner?.dispose()); // after its current user
        return { result: { deleted: true } };
      }
      case 'export-variant': {
        const b = requireBase();
        const v = held(req.variant);
        const bytes = writeNibbleFile(v.model, {
          tokenizer: tokenizerFilesOf(b),
          label: v.info.label,
          spec: v.info.spec,
        });
        const buf = bytes.buffer as ArrayBuffer;
        return {
          result: {
            bytes: buf,
            meta: { label: v.info.label, spec: v.info.spec, report: v.info.report, baseModel: b.name },
          },
          transfer: [buf],
        };
      }
      case 'export-model':
        return exportHeld(requireBase(), held(req.variant), req.format);
      case 'import-variant':
        return { result: importVariant(req.bytes, req.meta) };
      case 'weight-histogram':
        return { result: weightHistogram(requireBase().model, req.query) };
      case 'collisions': {
        const q = req.query;
        const w = linearWeight(requireBase().model, q);
        const t0 = globalThis.performance.now();
        const configs = collisionConfigs(q.bits, q.granularities, w.shape[1]);
        const run = async (counter: CodeCounter) => {
          const rows = [];
          for (const cfg of configs) {
            check();
            rows.push(
              summarizeCodes(
                cfg,
                await counter.histogram(await counter.quantize(w, cfg.bits, cfg.granularity, cfg.group, q.sym), w.data),
              ),
            );
          }
          return rows;
        };
        const { rows, counter } = await deps.locks.use(QUANTIZER, async () => {
          const gpuCounter = await codeCounter();
          try {
            return { rows: await run(gpuCounter), counter: gpuCounter };
          } catch (e) {
            if (gpuCounter.backend === 'cpu' || !retryOnCpu(e)) throw e;
            return { rows: await run(CPU_COUNTER), counter: CPU_COUNTER };
          }
        });
        const [N, K] = w.shape;
        return {
          result: {
            layer: q.layer,
            linear: q.linear,
            shape: [N, K],
            sym: q.sym,
            rows,
            backend: counter.backend,
            ms: globalThis.performance.now() - t0,
          },
        };
      }
      case 'outliers': {
        const q = req.query;
        if (!(q.threshold > 0))
          throw new NibbleError('bad-argument', `outlier threshold must be > 0, got ${q.threshold}`);
        const all = await windowsOf(q.text.calib);
        const ws = q.windows ? all.slice(0, q.windows) : all;
        if (ws.length === 0) throw new NibbleError('bad-argument', 'the calibration text is shorter than one window');
        const r = await activationMaxima(requireBase().model, ws, q.threshold, check);
        return { result: { threshold: q.threshold, windows: ws.length, ...r } };
      }
      case 'drift': {
        const q = req.query;
        const all = await windowsOf(q.text.eval);
        const ws = q.windows ? all.slice(0, q.windows) : all;
        return { result: await driftOf(evalDeps, refs, q.variant, ws, signal, progress) };
      }
      case 'truncation-point': {
        const q = req.query;
        const b = requireBase();
        const t0 = globalThis.performance.now();
        const spec: QuantSpec = { ...TRUNC_BASE, mantissaBits: q.k, truncMode: q.mode };
        const ws = (await windowsOf(q.text.eval)).slice(0, Math.max(1, q.windows));
        const { model } = await quantizeOnce(b.model, spec, { signal });
        const target = await build(model, deps.evalOnGpu());
        try {
          const p = await truncationPoint(evalDeps, refs, target, b.tokenizer, q, ws, signal, progress);
          return { result: { ...p, seconds: (globalThis.performance.now() - t0) / 1000 } };
        } finally {
          target.dispose();
        }
      }
      default: {
        const unknown: { kind?: unknown } = req;
        throw new NibbleError('bad-argument', `unknown lab request ${String(unknown.kind)}`);
      }
    }
  }

  const dropRunners = (dispose: boolean) => {
    for (const v of variants.values()) {
      if (dispose) v.runner?.dispose();
      v.runner = null;
      v.cpuRunner = null;
    }
    cpuBase = null;
  };

  return {
    handle,
    runner,
    reset() {
      dropRunners(true);
      variants.clear();
      texts.clear();
      refs.clear();
    },
    baseRunnerChanged() {
      refs.clear();
      for (const v of variants.values()) {
        if (v.runner?.backend === 'cpu' && deps.gpu() && !deps.locks.busy(v.info.id)) {
          v.runner.dispose();
          v.runner = null;
        }
      }
    },
    deviceLost() {
      for (const v of variants.values()) if (v.runner?.backend === 'webgpu') v.runner = null;
      quantizer = null;
      refs.clear();
    },
    dispose() {
      dropRunners(true);
      variants.clear();
      quantizer?.q.dispose();
      quantizer = null;
    },
  };
}
