// The lab: quantized variants of the loaded model, held side by side in the worker, and the
// playground's jobs on them (lab-protocol.ts). Runners are built lazily per variant (WebGPU when
// the host's device is in use, else the CPU twin) and used under the variant's slot lock. The
// quantizers, the truncation kernels and the collision histogram run on the GPU (GpuQuantizer)
// when there is a device, on their CPU twins otherwise or when the GPU path fails.
import type { UniformQuantTensor } from '../../core/tensor.ts';
import { isNibbleError, NibbleError } from '../../core/errors.ts';
import {
  checkWindowOptions,
  describeText,
  MAX_WINDOWS,
  textChoiceWindows,
  type TextChoice,
  type TextPurpose,
} from '../../core/text-source.ts';
import type { LlamaConfig, LlamaModel } from '../../core/model/model.ts';
import { writeNibbleFile } from '../../core/formats/nibble-file.ts';
import { readNibbleFile } from '../../core/formats/nibble-file-read.ts';
import { codeHistogram } from '../../core/quant/histogram.ts';
import { quantizeTensor } from '../../core/quant/quantize-tensor.ts';
import { createCpuRunner } from '../cpu-runner.ts';
import type { GpuQuantizer } from '../quant/gpu-backend.ts';
import { DEFAULT_SPEC, needsCalibration, type QuantSpec } from '../../core/quant/quant-spec.ts';
import { quantizeModel, type QuantizeProgress } from '../quantize.ts';
import type { ModelRunner } from '../runner.ts';
import type { GpuContext } from '../../gpu/device.ts';
export type { LabBase } from './lab-types.ts';
import { driftOf, ReferenceCache, truncationPoint } from './lab-eval.ts';
import { exportHeld, exportIssuesOf, tokenizerFilesOf } from './lab-export.ts';
import {
  BASE_VARIANT,
  type CollisionQuery,
  type LabBase,
  type CollisionReport,
  type DriftQuery,
  type DriftReport,
  type EvalJobProgress,
  type ExportedFiles,
  type ExportFileFormat,
  type HistogramQuery,
  type OutlierQuery,
  type OutlierReport,
  type QuantizeJobProgress,
  type LabText,
  type TextSources,
  type TruncationPoint,
  type TruncationQuery,
  type VariantInfo,
  type VariantMeta,
  type WeightHistogram,
} from './lab-types.ts';
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

/** A long lab job: cancelled through `signal`, reporting through `onProgress`. */
export interface LabJob<P> {
  signal: AbortSignal;
  onProgress?: (p: P) => void;
}

/**
 * The playground's work on the loaded model and its variants, one method per question. Every
 * answer is plain data (lab-types.ts); byte answers own their ArrayBuffers (transferable).
 */
export interface Lab {
  quantize(spec: QuantSpec, text: TextSources, job: LabJob<QuantizeJobProgress>): Promise<VariantInfo>;
  /** The loaded model ('base') first, then the variants in creation order; [] with no model. */
  listVariants(): VariantInfo[];
  /** Disposes the variant's runner after its current user; 'base' cannot be deleted. */
  deleteVariant(variant: string): Promise<{ deleted: boolean }>;
  /** A held model as .nibble bytes (tokenizer embedded) and the meta stored beside them. */
  exportVariant(variant: string): { bytes: ArrayBuffer; meta: VariantMeta };
  /** A held model ('base' or a variant) in a download format. */
  exportModel(variant: string, format: ExportFileFormat): ExportedFiles;
  /** A stored .nibble variant of the loaded model, back without re-quantizing. */
  importVariant(bytes: ArrayBuffer, meta?: Partial<VariantMeta>): VariantInfo;
  weightHistogram(query: HistogramQuery): WeightHistogram;
  collisions(query: CollisionQuery, signal: AbortSignal): Promise<CollisionReport>;
  outliers(query: OutlierQuery, signal: AbortSignal): Promise<OutlierReport>;
  drift(query: DriftQuery, job: LabJob<EvalJobProgress>): Promise<DriftReport>;
  truncationPoint(query: TruncationQuery, job: LabJob<EvalJobProgress>): Promise<TruncationPoint>;
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
/** Tokenized texts kept per loaded model (each at most MAX_TEXT_BYTES of text). */
const CACHED_TEXTS = 4;
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
  const texts = new Map<string, number[][]>(); // window length + text (or URL) → windows of the loaded model
  const embeddedTexts = new Map<string, Promise<string>>(); // URL → text
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
      const { GpuQuantizer } = await import('../quant/gpu-backend.ts');
      quantizer = { ctx, q: new GpuQuantizer(ctx) };
    }
    return quantizer.q;
  }

  /** A runner for `model`: WebGPU when the device is in use (CPU if this model cannot run there). */
  async function build(model: LlamaModel, gpu = true): Promise<ModelRunner> {
    const ctx = gpu ? deps.gpu() : null;
    if (ctx) {
      try {
        const { createGpuRunner } = await import('../gpu-runner.ts');
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

  /** The bytes of an embedded text, cached per URL (a failed fetch is forgotten). */
  function embedded(url: string): Promise<string> {
    let t = embeddedTexts.get(url);
    if (!t) {
      t = deps.fetchBytes(url).then((bytes) => new TextDecoder().decode(bytes));
      t.catch(() => embeddedTexts.delete(url));
      embeddedTexts.set(url, t);
    }
    return t;
  }

  /**
   * Token windows of a job's text (evaluation.md protocol) for the loaded model, cached per text
   * and window options (the same arrays each time, so the fp32 reference cache hits). A bare URL
   * is every window of min(256, context) tokens; a choice its first `windows` of `length`.
   */
  async function windowsOf(text: LabText, purpose: TextPurpose): Promise<number[][]> {
    const b = requireBase();
    const context = b.model.config.seqLen;
    const choice: TextChoice =
      typeof text === 'string'
        ? { source: { kind: 'embedded', url: text }, windows: MAX_WINDOWS, length: Math.min(256, context) }
        : text;
    checkWindowOptions(choice, context);
    const body = choice.source.kind === 'embedded' ? await embedded(choice.source.url) : choice.source.text;
    const key = `${choice.windows}:${choice.length}:${choice.source.kind === 'embedded' ? choice.source.url : body}`;
    let ws = texts.get(key);
    if (!ws) {
      ws = textChoiceWindows(b.tokenizer, body, choice, describeText(choice.source, purpose), context);
      if (texts.size >= CACHED_TEXTS) texts.delete(texts.keys().next().value!);
      texts.set(key, ws);
    }
    return ws;
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
        // Calibration forward passes follow the evaluations: on the GPU unless the adapter is a
        // software one, where the CPU twin captures statistics faster (the quantizers stay WGSL).
        return await quantizeModel(model, spec, { ...opts, gpu: gpu ?? undefined, cpuCalibration: !deps.evalOnGpu() });
      } catch (e) {
        if (!gpu || !retryOnCpu(e)) throw e;
        return quantizeModel(model, spec, opts);
      }
    });
  }

  async function quantize(
    spec: QuantSpec,
    text: TextSources,
    { signal, onProgress: progress }: LabJob<QuantizeJobProgress>,
  ): Promise<VariantInfo> {
    const b = requireBase();
    const calibration =
      needsCalibration(spec.method) || spec.method === 'llmint8' ? await windowsOf(text.calib, 'calib') : [];
    const onProgress = (p: QuantizeProgress) => progress?.({ kind: 'quantize', ...p });
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

  const cancelled = (signal: AbortSignal, what: string) => () => {
    if (signal.aborted) throw new NibbleError('cancelled', `${what} cancelled`);
  };

  async function deleteVariant(variant: string): Promise<{ deleted: boolean }> {
    if (variant === BASE_VARIANT)
      throw new NibbleError('bad-argument', 'the loaded model cannot be deleted; load another model instead');
    const v = variants.get(variant);
    if (!v) return { deleted: false };
    variants.delete(variant);
    await deps.locks.use(variant, async () => v.runner?.dispose()); // after its current user
    return { deleted: true };
  }

  function exportVariant(variant: string): { bytes: ArrayBuffer; meta: VariantMeta } {
    const b = requireBase();
    const v = held(variant);
    const bytes = writeNibbleFile(v.model, {
      tokenizer: tokenizerFilesOf(b),
      label: v.info.label,
      spec: v.info.spec,
    });
    return {
      bytes: bytes.buffer as ArrayBuffer,
      meta: { label: v.info.label, spec: v.info.spec, report: v.info.report, baseModel: b.name },
    };
  }

  async function collisions(q: CollisionQuery, signal: AbortSignal): Promise<CollisionReport> {
    const check = cancelled(signal, 'collisions');
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
      layer: q.layer,
      linear: q.linear,
      shape: [N, K],
      sym: q.sym,
      rows,
      backend: counter.backend,
      ms: globalThis.performance.now() - t0,
    };
  }

  async function outliers(q: OutlierQuery, signal: AbortSignal): Promise<OutlierReport> {
    if (!(q.threshold > 0)) throw new NibbleError('bad-argument', `outlier threshold must be > 0, got ${q.threshold}`);
    const all = await windowsOf(q.text.calib, 'calib');
    const ws = q.windows ? all.slice(0, q.windows) : all;
    const r = await activationMaxima(requireBase().model, ws, q.threshold, cancelled(signal, 'outliers'));
    return { threshold: q.threshold, windows: ws.length, ...r };
  }

  async function drift(q: DriftQuery, { signal, onProgress }: LabJob<EvalJobProgress>): Promise<DriftReport> {
    const all = await windowsOf(q.text.eval, 'eval');
    const ws = q.windows ? all.slice(0, q.windows) : all;
    return driftOf(evalDeps, refs, q.variant, ws, signal, onProgress);
  }

  async function truncation(
    q: TruncationQuery,
    { signal, onProgress }: LabJob<EvalJobProgress>,
  ): Promise<TruncationPoint> {
    const b = requireBase();
    const t0 = globalThis.performance.now();
    const spec: QuantSpec = { ...TRUNC_BASE, mantissaBits: q.k, truncMode: q.mode };
    const ws = (await windowsOf(q.text.eval, 'eval')).slice(0, Math.max(1, q.windows));
    const { model } = await quantizeOnce(b.model, spec, { signal });
    const target = await build(model, deps.evalOnGpu());
    try {
      const p = await truncationPoint(evalDeps, refs, target, b.tokenizer, q, ws, signal, onProgress);
      return { ...p, seconds: (globalThis.performance.now() - t0) / 1000 };
    } finally {
      target.dispose();
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
    quantize,
    listVariants() {
      const b = deps.base();
      return b ? [baseInfo(b), ...[...variants.values()].map((v) => v.info)] : [];
    },
    deleteVariant,
    exportVariant,
    exportModel: (variant, format) => exportHeld(requireBase(), held(variant), format),
    importVariant,
    weightHistogram: (query) => weightHistogram(requireBase().model, query),
    collisions,
    outliers,
    drift,
    truncationPoint: truncation,
    runner,
    reset() {
      dropRunners(true);
      variants.clear();
      texts.clear();
      embeddedTexts.clear();
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
