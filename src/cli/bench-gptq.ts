// `nibble bench` part 4: GPTQ wall time for the linears of a SmolLM2-135M-shaped block — the
// quantizer's own work: Hessian accumulation H = (2/n) Σ xxᵀ per input site from calibration
// windows, then GPTQ (Cholesky of H⁻¹, column loop, lazy block updates) per linear.
//
// Activations are random (uniform in [−1, 1)), not captured from forward passes, and the
// capture passes themselves are not timed: this is the cost of the quantizer, per layer. All
// layers of the shape are identical in size, so `layers` × `windows` is measured as asked and
// the full run (all layers, 128 windows) is EXTRAPOLATED: Hessian time grows with tokens,
// GPTQ time does not depend on them.
//
// Implementation: GpuQuantizer (src/engine/quant/gpu-backend.ts: hessian_accum, cholesky_*, gptq_*
// WGSL kernels); --gptq-backend cpu (the default on SwiftShader, where the WGSL path is ~10×
// slower than the CPU twin), or a GPU failure, times the CPU twin (src/core/quant/gptq.ts, float64)
// instead and says why.
//
// Calibration (with a GPU): the capture passes themselves on a synthetic model of the shape
// (`layers` layers, seeded random weights, random token windows), per layer the four sites'
// Hessians with each H read back (the final statistic) plus the advance through the block:
// GPU calibration (src/engine/calibrate/: block forward on the GEMM kernels, hessian_accum on
// the activation buffers) vs the CPU capture (CpuForward + HessianAccumulator), on this machine.
import { GPTQ_DEFAULTS, HessianAccumulator, gptqQuantize, type GptqOptions } from '../core/quant/gptq.ts';
import type { LlamaConfig } from '../core/model/model.ts';
import type { GpuContext } from '../gpu/device.ts';
import { GpuQuantizer } from '../engine/quant/gpu-backend.ts';
import type { GpuHessian } from '../gpu/quant-gptq.ts';
import { randomF32, rng, round } from './bench-util.ts';
import { LINEAR_INPUT_SITES } from '../core/model/forward.ts';
import type { LlamaModel } from '../core/model/model.ts';
import { f32Tensor } from '../core/tensor.ts';
import { cpuHessianCapture, gpuHessianCapture, type HessianCapture } from '../engine/calibrate/capture.ts';
import { CPU_QUANT } from '../engine/quant/cpu-backend.ts';
import type { HessianState } from '../engine/quant/backend.ts';

export interface GptqBenchOptions {
  layers: number; // layers measured
  windows: number; // calibration windows per Hessian
  windowTokens: number; // tokens per window
  fullLayers: number; // for the extrapolation (the config's layers)
  fullWindows: number; // for the extrapolation (128)
  backend: 'gpu' | 'cpu';
  cpuReason?: string; // why the CPU twin was chosen (reported)
  seed: number;
}

type Site = 'attn' | 'wo' | 'ffn' | 'w2';

/** The block's linears: (name, input site, rows = outputs, cols = inputs). */
function linears(c: LlamaConfig): [name: string, site: Site, rows: number, cols: number][] {
  const qd = c.nHeads * c.headSize;
  const kvd = c.nKvHeads * c.headSize;
  return [
    ['wq', 'attn', qd, c.dim],
    ['wk', 'attn', kvd, c.dim],
    ['wv', 'attn', kvd, c.dim],
    ['wo', 'wo', c.dim, qd],
    ['w1', 'ffn', c.hiddenDim, c.dim],
    ['w3', 'ffn', c.hiddenDim, c.dim],
    ['w2', 'w2', c.dim, c.hiddenDim],
  ];
}

export interface GptqLayerTiming {
  hessianMs: Record<Site, number>; // all windows of the site
  gptqMs: Record<string, number>; // per linear, W upload to results read back
  totalMs: number;
}

export interface GptqReport {
  implementation: string;
  cpuReason?: string; // why the CPU twin was timed instead of the GPU quantizer
  shape: string;
  quantizer: GptqOptions;
  measured: {
    layers: number;
    windows: number;
    windowTokens: number;
    perLayer: GptqLayerTiming[];
    totalSeconds: number;
  };
  activations: string;
  calibration?: CalibrationTiming;
  extrapolated: {
    label: string;
    layers: number;
    windows: number;
    windowTokens: number;
    formula: string;
    hessianSeconds: number;
    gptqSeconds: number;
    totalSeconds: number;
  };
}

export interface CalibrationTiming {
  layers: number;
  windows: number;
  windowTokens: number;
  gpuSeconds: number; // GPU calibration: forward + Hessians on the GPU, H read back
  cpuSeconds: number; // CPU capture: CpuForward + HessianAccumulator (float64)
  speedup: number; // cpuSeconds / gpuSeconds
}

/** A model of shape c with `layers` layers: weights uniform ±√(3/K) (unit-variance outputs), norms 1. */
function syntheticModel(c: LlamaConfig, layers: number, seed: number): LlamaModel {
  const rand = rng(seed);
  const qd = c.nHeads * c.headSize;
  const kvd = c.nKvHeads * c.headSize;
  const lin = (n: number, k: number) => f32Tensor([n, k], randomF32(rand, n * k, Math.sqrt(3 / k)));
  const ones = (n: number) => f32Tensor([n], new Float32Array(n).fill(1));
  const tokEmb = f32Tensor([c.vocabSize, c.dim], randomF32(rand, c.vocabSize * c.dim));
  return {
    config: { ...c, nLayers: layers },
    weights: {
      tokEmb,
      rmsFinal: ones(c.dim),
      wcls: tokEmb,
      layers: Array.from({ length: layers }, () => ({
        rmsAtt: ones(c.dim),
        wq: lin(qd, c.dim),
        wk: lin(kvd, c.dim),
        wv: lin(kvd, c.dim),
        wo: lin(c.dim, qd),
        rmsFfn: ones(c.dim),
        w1: lin(c.hiddenDim, c.dim),
        w3: lin(c.hiddenDim, c.dim),
        w2: lin(c.dim, c.hiddenDim),
      })),
    },
  };
}

/** Seconds for every layer's four Hessians (read back) and advance, through one capture. */
async function timeCapture<H extends HessianState>(
  model: LlamaModel,
  cap: HessianCapture<H>,
  start: (cols: number) => H,
  finish: (h: H) => Promise<unknown>,
  log: (s: string) => void,
  what: string,
): Promise<number> {
  const c = model.config;
  const cols = { attn: c.dim, wo: c.nHeads * c.headSize, ffn: c.dim, w2: c.hiddenDim };
  const t0 = performance.now();
  try {
    for (let l = 0; l < c.nLayers; l++) {
      for (const site of LINEAR_INPUT_SITES) {
        log(`gptq: ${what} calibration, layer ${l} ${site}`);
        const h = start(cols[site]);
        await cap.hessian(l, site, h);
        await finish(h);
      }
      await cap.advance(l);
    }
  } finally {
    cap.dispose();
  }
  return (performance.now() - t0) / 1000;
}

async function benchCalibration(
  ctx: GpuContext,
  c: LlamaConfig,
  o: GptqBenchOptions,
  log: (s: string) => void,
): Promise<CalibrationTiming> {
  const model = syntheticModel(c, o.layers, o.seed);
  const rand = rng(o.seed + 1);
  const windows = Array.from({ length: o.windows }, () =>
    Array.from({ length: Math.min(o.windowTokens, c.seqLen) }, () => Math.floor(rand() * c.vocabSize)),
  );
  const gq = new GpuQuantizer(ctx);
  try {
    const none = () => {};
    const gpuSeconds = await timeCapture(
      model,
      gpuHessianCapture(gq, model, windows, none),
      (k) => gq.hessian(k),
      async (h) => (await h.read(), gq.releaseHessian(h)),
      log,
      'GPU',
    );
    const cpuSeconds = await timeCapture(
      model,
      cpuHessianCapture(model, windows, CPU_QUANT, none),
      (k) => CPU_QUANT.hessian(k),
      async () => {},
      log,
      'CPU',
    );
    return {
      layers: o.layers,
      windows: o.windows,
      windowTokens: windows[0].length,
      gpuSeconds: round(gpuSeconds, 2),
      cpuSeconds: round(cpuSeconds, 2),
      speedup: round(cpuSeconds / gpuSeconds, 2),
    };
  } finally {
    gq.dispose();
  }
}

interface Engine {
  name: string;
  hessian(cols: number, windows: number, tokens: number, rand: () => number): Promise<GpuHessian | Float64Array>;
  gptq(W: Float32Array, rows: number, cols: number, H: GpuHessian | Float64Array, o: GptqOptions): Promise<number>;
  release(H: GpuHessian | Float64Array): void;
}

function gpuEngine(ctx: GpuContext): Engine & { dispose(): void } {
  const q = new GpuQuantizer(ctx);
  return {
    name: 'GpuQuantizer (src/engine/quant/gpu-backend.ts): GpuHessian.add per window, gptq per linear, WGSL in f32',
    async hessian(cols, windows, tokens, rand) {
      const H = q.hessian(cols);
      for (let w = 0; w < windows; w++) H.add(randomF32(rand, tokens * cols), tokens);
      await ctx.device.queue.onSubmittedWorkDone();
      return H;
    },
    gptq: async (W, rows, cols, H, o) => (await q.gptq(W, rows, cols, H, o)).loss,
    release: (H) => (H as GpuHessian).destroy(),
    dispose: () => q.dispose(),
  };
}

const cpuEngine: Engine = {
  name: 'CPU twin (src/core/quant/gptq.ts): HessianAccumulator + gptqQuantize in float64',
  async hessian(cols, windows, tokens, rand) {
    const H = new HessianAccumulator(cols);
    for (let w = 0; w < windows; w++) H.add(randomF32(rand, tokens * cols), tokens);
    return H.H;
  },
  gptq: async (W, rows, cols, H, o) => gptqQuantize(W, rows, cols, H as Float64Array, o).loss,
  release: () => {},
};

async function timeLayer(
  e: Engine,
  c: LlamaConfig,
  o: GptqBenchOptions,
  opts: GptqOptions,
  seed: number,
  log: (s: string) => void,
): Promise<GptqLayerTiming> {
  const rand = rng(seed);
  const cols: Record<Site, number> = { attn: c.dim, wo: c.nHeads * c.headSize, ffn: c.dim, w2: c.hiddenDim };
  const hessianMs = {} as Record<Site, number>;
  const gptqMs: Record<string, number> = {};
  const t0 = performance.now();
  for (const site of ['attn', 'wo', 'ffn', 'w2'] as const) {
    log(`gptq: Hessian ${site} (${cols[site]} inputs, ${o.windows} × ${o.windowTokens} tokens)`);
    let t = performance.now();
    const H = await e.hessian(cols[site], o.windows, o.windowTokens, rand);
    hessianMs[site] = round(performance.now() - t, 1);
    try {
      for (const [name, s, rows, k] of linears(c)) {
        if (s !== site) continue;
        const W = randomF32(rand, rows * k, Math.sqrt(3 / k));
        log(`gptq: ${name} (${rows}×${k})`);
        t = performance.now();
        await e.gptq(W, rows, k, H, opts);
        gptqMs[name] = round(performance.now() - t, 1);
      }
    } finally {
      e.release(H);
    }
  }
  return { hessianMs, gptqMs, totalMs: round(performance.now() - t0, 1) };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function benchGptq(
  ctx: GpuContext | null,
  c: LlamaConfig,
  o: GptqBenchOptions,
  log: (s: string) => void,
): Promise<GptqReport> {
  const opts: GptqOptions = { ...GPTQ_DEFAULTS, bits: 4, group: 32 };
  let cpuReason: string | undefined;
  let engine: Engine = cpuEngine;
  let gpu: (Engine & { dispose(): void }) | null = null;
  if (o.backend === 'gpu' && ctx) engine = gpu = gpuEngine(ctx);
  else cpuReason = ctx ? (o.cpuReason ?? '--gptq-backend cpu') : 'no WebGPU device';
  const perLayer: GptqLayerTiming[] = [];
  try {
    for (let l = 0; l < o.layers; l++) {
      try {
        perLayer.push(await timeLayer(engine, c, o, opts, o.seed + l, log));
      } catch (e) {
        if (engine === cpuEngine) throw e;
        cpuReason = `the GPU quantizer failed: ${e instanceof Error ? e.message : String(e)}`;
        engine = cpuEngine;
        perLayer.length = 0;
        l = -1; // start over on the CPU twin
      }
    }
  } finally {
    gpu?.dispose();
  }
  const calibration = ctx ? await benchCalibration(ctx, c, o, log) : undefined;
  const hessianPerWindowMs = (['attn', 'wo', 'ffn', 'w2'] as const).reduce(
    (s, site) => s + mean(perLayer.map((p) => p.hessianMs[site])) / o.windows,
    0,
  );
  const gptqPerLayerMs = mean(perLayer.map((p) => Object.values(p.gptqMs).reduce((a, b) => a + b, 0)));
  const hessianSeconds = (o.fullLayers * o.fullWindows * hessianPerWindowMs) / 1000; // same window size
  const gptqSeconds = (o.fullLayers * gptqPerLayerMs) / 1000;
  return {
    implementation: engine.name,
    ...(cpuReason ? { cpuReason } : {}),
    shape: `dim ${c.dim}, hidden ${c.hiddenDim}, ${c.nHeads} heads / ${c.nKvHeads} kv heads of ${c.headSize}: per layer wq ${c.nHeads * c.headSize}×${c.dim}, wk/wv ${c.nKvHeads * c.headSize}×${c.dim}, wo ${c.dim}×${c.nHeads * c.headSize}, w1/w3 ${c.hiddenDim}×${c.dim}, w2 ${c.dim}×${c.hiddenDim}`,
    quantizer: opts,
    measured: {
      layers: o.layers,
      windows: o.windows,
      windowTokens: o.windowTokens,
      perLayer,
      totalSeconds: round(perLayer.reduce((s, p) => s + p.totalMs, 0) / 1000, 2),
    },
    ...(calibration ? { calibration } : {}),
    activations:
      'random uniform [−1, 1) calibration activations; the forward passes that capture real ones are not included',
    extrapolated: {
      label: 'EXTRAPOLATED from the measured layers, not measured',
      layers: o.fullLayers,
      windows: o.fullWindows,
      windowTokens: o.windowTokens,
      formula: 'layers × (windows × Σ_sites Hessian ms per window + Σ_linears GPTQ ms per layer)',
      hessianSeconds: round(hessianSeconds, 1),
      gptqSeconds: round(gptqSeconds, 1),
      totalSeconds: round(hessianSeconds + gptqSeconds, 1),
    },
  };
}
