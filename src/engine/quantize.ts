// The quantize pipeline: turns a model's 7 linears per block into tagged quantized tensors,
// layer by layer. Calibration activations are captured by running the (already partially
// quantized) model over the calibration windows, as GPTQ's sequential reference does; inside a
// block GPTQ runs true-sequential groups [q,k,v] → [o] → [gate, up] → [down].
import { NibbleError } from '../core/errors.ts';
import { CpuForward, type LinearInputSite } from '../core/model/forward.ts';
import { HessianAccumulator, gptqQuantize } from '../core/quant/gptq.ts';
import { f32Values, weightValues } from '../core/model/linear.ts';
import { outlierColumns, packInt8Rows, quantizeRowsInt8 } from '../core/quant/llmint8.ts';
import { sqnrDb } from '../core/model/metrics.ts';
import { LINEAR_NAMES, type LayerWeights, type LinearName, type LlamaModel } from '../core/model/model.ts';
import {
  FLOAT_SPECS,
  roundArrayToFloat,
  roundFraction,
  truncateFraction,
  type FloatFormat,
} from '../core/quant/float-formats.ts';
import { weightBytes } from '../core/quant/format.ts';
import { packUniform, quantizeTensor } from '../core/quant/quantize-tensor.ts';
import { fitParams, groupLayout, quantizeValue } from '../core/quant/uniform.ts';
import { accumulateAbsMax, foldSmoothing, smoothingScales } from '../core/quant/smoothquant.ts';
import { yieldToEventLoop } from '../core/yield.ts';
import { f32Tensor, numel, type F32Tensor, type Tensor } from '../core/tensor.ts';
import type { GpuQuantizer } from './gpu-quantize.ts';
import { needsCalibration, specLabel, validateSpec, type QuantSpec } from '../core/quant/quant-spec.ts';

export interface LinearReport {
  sqnrDb: number; // weight SQNR of ŵ vs w
  gptqLoss?: number;
}

export interface LayerQuantReport {
  linears: Record<LinearName, LinearReport>;
  gptqLoss?: number; // sum over the layer's linears
  outlierDims?: Record<LinearInputSite, number[]>; // llmint8: input features with |x| ≥ threshold
}

export interface QuantizeReport {
  label: string;
  spec: QuantSpec;
  layers: LayerQuantReport[];
  weightBytes: number; // all tensors as stored (linears quantized, the rest f32)
  linearBytes: number; // the quantized linears alone
  bitsPerWeight: number; // storage bits per linear weight, scales/zeros included
  nominalBits: number; // the format's bits per weight (e.g. 16 for fp16 simulated in f32)
  seconds: number;
}

export interface QuantizeProgress {
  stage: 'calibration' | 'quantize';
  layer: number; // 0-based
  nLayers: number;
  linear?: LinearName;
  gptqLoss?: number;
  fraction: number; // 0..1 overall
}

export interface QuantizeOptions {
  calibration?: readonly number[][]; // token windows; required by gptq and smoothquant
  /** Run the quantizers as WGSL kernels (bit-identical to the CPU twins; GPTQ in f32). */
  gpu?: GpuQuantizer;
  onProgress?: (p: QuantizeProgress) => void;
  signal?: AbortSignal;
}

/** Which captured input feeds each linear (q/k/v share the attention norm output, etc.). */
export const INPUT_SITE: Record<LinearName, LinearInputSite> = {
  wq: 'attn',
  wk: 'attn',
  wv: 'attn',
  wo: 'wo',
  w1: 'ffn',
  w3: 'ffn',
  w2: 'w2',
};
const TRUE_SEQUENTIAL: LinearName[][] = [['wq', 'wk', 'wv'], ['wo'], ['w1', 'w3'], ['w2']];
const SITES: LinearInputSite[] = ['attn', 'wo', 'ffn', 'w2'];
const FLOAT_METHODS: Record<string, FloatFormat> = {
  fp16: 'fp16',
  bf16: 'bf16',
  tf32: 'tf32',
  'fp8-e4m3': 'fp8e4m3',
  'fp8-e5m2': 'fp8e5m2',
};

const tick = yieldToEventLoop;

/** The weight as f32: a quantized base (native GGUF, a .nibble loaded as the model) is dequantized, ŵ. */
const asF32 = (t: Tensor, what: string): F32Tensor => weightValues(t, what);

/** Quantizes one f32 linear by a calibration-free method. */
export function quantizeLinear(w: F32Tensor, spec: QuantSpec): Tensor {
  const [N, K] = w.shape;
  switch (spec.method) {
    case 'fp32':
      return w;
    case 'rtn': {
      const group = spec.group > 0 && spec.group < K ? spec.group : undefined;
      if (spec.bits === 2 || spec.bits === 3 || spec.bits === 4 || spec.bits === 8) {
        return quantizeTensor(w, {
          format: `q${spec.bits}` as 'q4',
          granularity: group ? 'group' : 'row',
          group,
          sym: spec.sym,
          scaleType: spec.scaleType,
        });
      }
      // 5–7-bit codes live in 8-bit containers with explicit zero points.
      return requantizeNarrow(w, spec, groupLayout({ granularity: group ? 'group' : 'row', group }, K).group);
    }
    case 'nf4':
    case 'fp4':
      return quantizeTensor(w, { format: spec.method, group: spec.group || 64, doubleQuant: spec.doubleQuant });
    case 'llmint8':
      return packInt8Rows(quantizeRowsInt8(w.data, N, K), N, K, spec.threshold);
    case 'trunc':
      return f32Tensor(
        [N, K],
        spec.truncMode === 'rne'
          ? roundFraction(w.data, spec.mantissaBits)
          : truncateFraction(w.data, spec.mantissaBits),
      );
    default: {
      const fmt = FLOAT_METHODS[spec.method];
      if (fmt) return f32Tensor([N, K], roundArrayToFloat(w.data, fmt));
      throw new NibbleError('bad-argument', `method ${spec.method} needs calibration data`);
    }
  }
}

/** 5–7-bit uniform codes (rows fitted as the spec says) stored in a q8 container. */
function requantizeNarrow(w: F32Tensor, spec: QuantSpec, group: number): Tensor {
  const [N, K] = w.shape;
  const nGroups = Math.ceil(K / group);
  const codes = new Uint8Array(N * K);
  const scales = new Float32Array(N * nGroups);
  const zeros = new Uint8Array(N * nGroups);
  const mq = 2 ** spec.bits - 1;
  for (let r = 0; r < N; r++) {
    for (let g = 0; g < nGroups; g++) {
      const s = r * K + g * group;
      const e = r * K + Math.min(K, (g + 1) * group);
      const p = fitParams(w.data, s, e, spec.bits, spec.sym);
      scales[r * nGroups + g] = p.scale;
      zeros[r * nGroups + g] = p.zero;
      for (let i = s; i < e; i++) codes[i] = quantizeValue(w.data[i], p.scale, p.zero, mq);
    }
  }
  return packUniform(
    {
      rows: N,
      cols: K,
      bits: 8,
      sym: false,
      granularity: group < K ? 'group' : 'row',
      group,
      nGroups,
      codes,
      scales,
      zeros,
    },
    'f32',
  );
}

function nominalBits(spec: QuantSpec): number {
  switch (spec.method) {
    case 'rtn':
    case 'gptq':
      return spec.bits;
    case 'nf4':
    case 'fp4':
      return 4;
    case 'llmint8':
    case 'smoothquant':
      return 8;
    case 'trunc':
      return 9 + spec.mantissaBits;
    case 'fp32':
      return 32;
    default: {
      const f = FLOAT_SPECS[FLOAT_METHODS[spec.method]];
      return 1 + f.expBits + f.manBits;
    }
  }
}

function cloneModel(m: LlamaModel): LlamaModel {
  return { config: m.config, weights: { ...m.weights, layers: m.weights.layers.map((l) => ({ ...l })) } };
}

export async function quantizeModel(
  model: LlamaModel,
  spec: QuantSpec,
  opts: QuantizeOptions = {},
): Promise<{ model: LlamaModel; report: QuantizeReport }> {
  const t0 = globalThis.performance.now();
  const c = model.config;
  validateSpec(spec, [c.dim, c.dim, c.dim, c.nHeads * c.headSize, c.dim, c.dim, c.hiddenDim]);
  const calib = opts.calibration ?? [];
  if (needsCalibration(spec.method) && calib.length === 0) {
    throw new NibbleError(
      'bad-argument',
      `${spec.method} needs calibration text (--calib FILE) with at least one full window`,
    );
  }
  const out = cloneModel(model);
  const L = c.nLayers;
  const layers: LayerQuantReport[] = [];
  const progress = (p: Omit<QuantizeProgress, 'nLayers'>) => opts.onProgress?.({ ...p, nLayers: L });
  const check = () => {
    if (opts.signal?.aborted) throw new NibbleError('cancelled', 'quantization cancelled');
  };

  if (spec.method === 'fp32') {
    // Nothing to do: evaluate or save the model as it is (which may be a loaded variant).
  } else if (spec.method === 'gptq') {
    await quantizeGptq(out, spec, calib, layers, progress, check, opts.gpu);
  } else {
    let stats: SiteStats | null = null;
    if (spec.method === 'smoothquant' || (spec.method === 'llmint8' && calib.length > 0)) {
      progress({ stage: 'calibration', layer: 0, fraction: 0 });
      stats = await captureAbsMax(model, calib, check);
    }
    if (spec.method === 'smoothquant') applySmoothing(out, stats!, spec.alpha);
    const linearSpec: QuantSpec =
      spec.method === 'smoothquant' ? { ...spec, method: 'llmint8', threshold: Infinity } : spec;
    for (let l = 0; l < L; l++) {
      check();
      const lw = out.weights.layers[l];
      const rep = {} as Record<LinearName, LinearReport>;
      for (const name of LINEAR_NAMES) {
        const w = asF32(lw[name], `layer ${l} ${name}`);
        const q = opts.gpu ? await opts.gpu.quantizeLinear(w, linearSpec) : quantizeLinear(w, linearSpec);
        rep[name] = { sqnrDb: sqnrDb(asF32(model.weights.layers[l][name], name).data, f32Values(q)) };
        lw[name] = q;
      }
      const layer: LayerQuantReport = { linears: rep };
      if (spec.method === 'llmint8' && stats) {
        layer.outlierDims = Object.fromEntries(
          SITES.map((s) => [
            s,
            [...outlierColumns(stats!.absMax[l][s], 1, stats!.absMax[l][s].length, spec.threshold)].flatMap((v, i) =>
              v ? [i] : [],
            ),
          ]),
        ) as Record<LinearInputSite, number[]>;
      }
      layers.push(layer);
      progress({ stage: 'quantize', layer: l, fraction: (l + 1) / L });
      await tick();
    }
  }

  let linearBytes = 0;
  let linearCount = 0;
  for (const lw of out.weights.layers) {
    for (const n of LINEAR_NAMES) {
      linearBytes += weightBytes(lw[n]);
      linearCount += numel(lw[n].shape);
    }
  }
  const rest =
    weightBytes(out.weights.tokEmb) +
    weightBytes(out.weights.rmsFinal) +
    (c.sharedClassifier ? 0 : weightBytes(out.weights.wcls)) +
    out.weights.layers.reduce((n, lw) => n + weightBytes(lw.rmsAtt) + weightBytes(lw.rmsFfn), 0);
  return {
    model: out,
    report: {
      label: specLabel(spec),
      spec,
      layers,
      linearBytes,
      weightBytes: linearBytes + rest,
      bitsPerWeight: (8 * linearBytes) / linearCount,
      nominalBits: nominalBits(spec),
      seconds: (globalThis.performance.now() - t0) / 1000,
    },
  };
}

interface SiteStats {
  absMax: Record<LinearInputSite, Float32Array>[]; // per layer: per-feature max |x| over calibration
}

/** One fp32 pass over the calibration windows recording max |x| per input feature of every site. */
async function captureAbsMax(model: LlamaModel, calib: readonly number[][], check: () => void): Promise<SiteStats> {
  const c = model.config;
  const width: Record<LinearInputSite, number> = {
    attn: c.dim,
    wo: c.nHeads * c.headSize,
    ffn: c.dim,
    w2: c.hiddenDim,
  };
  const absMax = Array.from(
    { length: c.nLayers },
    () =>
      Object.fromEntries(SITES.map((s) => [s, new Float32Array(width[s])])) as Record<LinearInputSite, Float32Array>,
  );
  const f = new CpuForward(model);
  f.capture = (l, site, x, M) => accumulateAbsMax(absMax[l][site], x, M);
  for (const w of calib) {
    check();
    f.forwardAll(w, 0);
    await tick();
  }
  return { absMax };
}

/** SmoothQuant: fold s into the attention/FFN norms and the q,k,v / gate,up columns. */
function applySmoothing(m: LlamaModel, stats: SiteStats, alpha: number): void {
  m.weights.layers.forEach((lw: LayerWeights, l) => {
    for (const [site, norm, names] of [
      ['attn', 'rmsAtt', ['wq', 'wk', 'wv']],
      ['ffn', 'rmsFfn', ['w1', 'w3']],
    ] as const) {
      const ws = names.map((n) => ({ data: asF32(lw[n], n).data, rows: lw[n].shape[0] }));
      const s = smoothingScales(stats.absMax[l][site], ws, alpha);
      const f = foldSmoothing(asF32(lw[norm], norm).data, ws, s);
      lw[norm] = f32Tensor([...lw[norm].shape], f.norm);
      names.forEach((n, i) => (lw[n] = f32Tensor([...lw[n].shape], f.weights[i])));
    }
  });
}

/** Sequential GPTQ: layer inputs come from the already-quantized earlier layers. */
async function quantizeGptq(
  m: LlamaModel,
  spec: QuantSpec,
  calib: readonly number[][],
  layers: LayerQuantReport[],
  progress: (p: Omit<QuantizeProgress, 'nLayers'>) => void,
  check: () => void,
  gpu?: GpuQuantizer,
): Promise<void> {
  const c = m.config;
  const L = c.nLayers;
  const fwd = new CpuForward(m); // reads m's layers, which we replace as we go
  progress({ stage: 'calibration', layer: 0, fraction: 0 });
  const xs = calib.map((w) => fwd.embed(w, 0)); // residual stream entering the current layer, per window
  const steps = L * TRUE_SEQUENTIAL.length;
  for (let l = 0; l < L; l++) {
    const lw = m.weights.layers[l];
    const rep = {} as Record<LinearName, LinearReport>;
    let layerLoss = 0;
    for (let gi = 0; gi < TRUE_SEQUENTIAL.length; gi++) {
      const group = TRUE_SEQUENTIAL[gi];
      const site = INPUT_SITE[group[0]];
      const K = lw[group[0]].shape[1];
      const acc = gpu ? gpu.hessian(K) : new HessianAccumulator(K);
      fwd.capture = (layer, s, x, M) => {
        if (layer === l && s === site) acc.add(x, M);
      };
      for (let w = 0; w < calib.length; w++) {
        check();
        fwd.block(l, xs[w].slice(), calib[w].length, 0);
        await tick();
      }
      fwd.capture = undefined;
      for (const name of group) {
        check();
        const w = asF32(lw[name], `layer ${l} ${name}`);
        const [N] = w.shape;
        const gopts = {
          bits: spec.bits,
          group: spec.group,
          sym: spec.sym,
          actOrder: spec.actOrder,
          staticGroups: spec.staticGroups,
          damp: spec.damp,
          blockSize: spec.blockSize,
        };
        const r = gpu
          ? await gpu.gptq(w.data, N, K, acc as ReturnType<GpuQuantizer['hessian']>, gopts)
          : gptqQuantize(w.data, N, K, (acc as HessianAccumulator).H, gopts);
        lw[name] = packGptq(r, N, K, spec);
        rep[name] = { sqnrDb: sqnrDb(w.data, f32Values(lw[name])), gptqLoss: r.loss };
        layerLoss += r.loss;
        progress({
          stage: 'quantize',
          layer: l,
          linear: name,
          gptqLoss: r.loss,
          fraction: (l * TRUE_SEQUENTIAL.length + gi + 1) / steps,
        });
      }
      if ('destroy' in acc) acc.destroy(); // the GPU Hessian's buffer
    }
    // Advance every window through the now-quantized layer.
    for (let w = 0; w < calib.length; w++) fwd.block(l, xs[w], calib[w].length, 0);
    layers.push({ linears: rep, gptqLoss: layerLoss });
  }
}

/** GPTQ codes → packed uniform tensor (5–7 bits in 8-bit containers; act-order keeps g_idx). */
function packGptq(r: ReturnType<typeof gptqQuantize>, N: number, K: number, spec: QuantSpec): Tensor {
  const G = spec.group > 0 ? Math.min(spec.group, K) : K;
  const nGroups = Math.ceil(K / G);
  const container = spec.bits === 2 || spec.bits === 3 || spec.bits === 4 || spec.bits === 8 ? spec.bits : 8;
  const sym = spec.sym && container === spec.bits;
  const natural = r.gIdx.every((g, c) => g === Math.floor(c / G));
  return packUniform(
    {
      rows: N,
      cols: K,
      bits: container,
      sym,
      granularity: spec.group > 0 && G < K ? 'group' : 'row',
      group: G,
      nGroups,
      codes: r.codes,
      scales: r.scales,
      zeros: Uint8Array.from(r.zeros),
    },
    'f32',
    natural ? undefined : Uint32Array.from(r.gIdx),
  );
}
