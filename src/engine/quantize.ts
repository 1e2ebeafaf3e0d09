// The quantize pipeline: turns a model's 7 linears per block into tagged quantized tensors,
// layer by layer. Calibration activations are captured by running the (already partially
// quantized) model over the calibration windows, as GPTQ's sequential reference does; inside a
// block GPTQ runs true-sequential groups [q,k,v] → [o] → [gate, up] → [down]. A quantized base
// (native GGUF, a .nibble loaded as the model) is quantized from its ŵ (weightValues).
// The quantizers run on a backend (quant/backend.ts): the CPU twins, or the WGSL kernels; with
// the WGSL kernels, calibration runs on the GPU too (calibrate/: the block forward on the GEMM
// kernels, Hessians and abs-max statistics reduced where the activations are).
// Streaming: one layer at a time. The result shares every tensor it does not change with the
// base (embeddings, norms, biases: the same objects); a layer's f32 working copies (ŵ of a
// quantized base, SmoothQuant's folded weights) exist only while that layer is quantized.
import { NibbleError } from '../core/errors.ts';
import { LINEAR_INPUT_SITES, type LinearInputSite } from '../core/model/forward.ts';
import { f32Values, weightValues } from '../core/model/linear.ts';
import { outlierColumns } from '../core/quant/llmint8.ts';
import { sqnrDb } from '../core/model/metrics.ts';
import { LINEAR_NAMES, type LayerWeights, type LinearName, type LlamaModel } from '../core/model/model.ts';
import { FLOAT_SPECS } from '../core/quant/float-formats.ts';
import { weightBytes } from '../core/quant/format.ts';
import { foldSmoothing, smoothingScales } from '../core/quant/smoothquant.ts';
import { yieldToEventLoop } from '../core/yield.ts';
import { f32Tensor, numel } from '../core/tensor.ts';
import type { GptqBackend, HessianState, Mode, QuantBackend } from './quant/backend.ts';
import type { GpuQuantizer } from './quant/gpu-backend.ts';
import type { GpuHessian } from '../gpu/quant-gptq.ts';
import { CPU_QUANT } from './quant/cpu-backend.ts';
import { quantizeEmbeddings } from './quant/embeddings.ts';
import { gptqLinear, quantizeLinearOn } from './quant/quantize-linear.ts';
import {
  captureAbsMaxCpu,
  captureAbsMaxGpu,
  cpuHessianCapture,
  gpuHessianCapture,
  type HessianCapture,
  type SiteStats,
} from './calibrate/capture.ts';
import { FLOAT_METHODS, needsCalibration, specLabel, validateSpec, type QuantSpec } from '../core/quant/quant-spec.ts';

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
  /** Where the quantizers run: the WGSL kernels (GpuQuantizer: bit-identical to the CPU twins, GPTQ in f32); default the CPU twins. */
  gpu?: GpuQuantizer;
  /** With `gpu`: capture calibration statistics with the CPU forward anyway (the bench's baseline). */
  cpuCalibration?: boolean;
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

const tick = yieldToEventLoop;

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
      const f = FLOAT_SPECS[FLOAT_METHODS[spec.method]!];
      return 1 + f.expBits + f.manBits;
    }
  }
}

/** The base's tensors, shared: layers are new objects whose linears the pipeline replaces. */
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
  const backend: QuantBackend = opts.gpu ?? CPU_QUANT;
  const L = c.nLayers;
  const layers: LayerQuantReport[] = [];
  const progress = (p: Omit<QuantizeProgress, 'nLayers'>) => opts.onProgress?.({ ...p, nLayers: L });
  const check = () => {
    if (opts.signal?.aborted) throw new NibbleError('cancelled', 'quantization cancelled');
  };

  if (spec.method === 'fp32') {
    // Nothing to do: evaluate or save the model as it is (which may be a loaded variant).
  } else if (spec.method === 'gptq') {
    progress({ stage: 'calibration', layer: 0, fraction: 0 });
    if (opts.gpu) {
      const gq = opts.gpu;
      const cap: HessianCapture<GpuHessian> = opts.cpuCalibration
        ? cpuHessianCapture<GpuHessian>(out, calib, gq, check)
        : gpuHessianCapture(gq, out, calib, check);
      await quantizeGptq<GpuHessian>(out, spec, layers, progress, check, gq, cap);
    } else {
      await quantizeGptq(
        out,
        spec,
        layers,
        progress,
        check,
        CPU_QUANT,
        cpuHessianCapture(out, calib, CPU_QUANT, check),
      );
    }
  } else {
    let stats: SiteStats | null = null;
    if (spec.method === 'smoothquant' || (spec.method === 'llmint8' && calib.length > 0)) {
      progress({ stage: 'calibration', layer: 0, fraction: 0 });
      stats =
        opts.gpu && !opts.cpuCalibration
          ? await captureAbsMaxGpu(opts.gpu, model, calib, check)
          : await captureAbsMaxCpu(model, calib, check);
    }
    const linearSpec: QuantSpec =
      spec.method === 'smoothquant' ? { ...spec, method: 'llmint8', threshold: Infinity } : spec;
    for (let l = 0; l < L; l++) {
      check();
      const lw = out.weights.layers[l];
      if (spec.method === 'smoothquant') smoothLayer(lw, stats!.absMax[l], spec.alpha);
      const rep = {} as Record<LinearName, LinearReport>;
      for (const name of LINEAR_NAMES) {
        const w = weightValues(lw[name], `layer ${l} ${name}`);
        const q = await quantizeLinearOn(backend, w, linearSpec);
        rep[name] = { sqnrDb: sqnrDb(weightValues(model.weights.layers[l][name], name).data, f32Values(q)) };
        lw[name] = q;
      }
      const layer: LayerQuantReport = { linears: rep };
      if (spec.method === 'llmint8' && stats) {
        layer.outlierDims = Object.fromEntries(
          LINEAR_INPUT_SITES.map((s) => [
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

  spec = await quantizeEmbeddings(out, spec, backend); // tok_emb / wcls: keep, q8 or q4 (quant/embeddings.ts)

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

/** SmoothQuant for one layer: fold s into the attention/FFN norms and the q,k,v / gate,up columns. */
function smoothLayer(lw: LayerWeights, absMax: Record<LinearInputSite, Float32Array>, alpha: number): void {
  for (const [site, norm, names] of [
    ['attn', 'rmsAtt', ['wq', 'wk', 'wv']],
    ['ffn', 'rmsFfn', ['w1', 'w3']],
  ] as const) {
    const ws = names.map((n) => ({ data: weightValues(lw[n], n).data, rows: lw[n].shape[0] }));
    const s = smoothingScales(absMax[site], ws, alpha);
    const f = foldSmoothing(weightValues(lw[norm], norm).data, ws, s);
    lw[norm] = f32Tensor([...lw[norm].shape], f.norm);
    names.forEach((n, i) => (lw[n] = f32Tensor([...lw[n].shape], f.weights[i])));
  }
}

/** Sequential GPTQ: layer inputs come from the already-quantized earlier layers (`cap` reads m). */
async function quantizeGptq<H extends HessianState>(
  m: LlamaModel,
  spec: QuantSpec,
  layers: LayerQuantReport[],
  progress: (p: Omit<QuantizeProgress, 'nLayers'>) => void,
  check: () => void,
  backend: GptqBackend<Mode, H>,
  cap: HessianCapture<H>,
): Promise<void> {
  const L = m.config.nLayers;
  const steps = L * TRUE_SEQUENTIAL.length;
  try {
    for (let l = 0; l < L; l++) {
      const lw = m.weights.layers[l];
      const rep = {} as Record<LinearName, LinearReport>;
      let layerLoss = 0;
      for (let gi = 0; gi < TRUE_SEQUENTIAL.length; gi++) {
        const group = TRUE_SEQUENTIAL[gi];
        const h = backend.hessian(lw[group[0]].shape[1]);
        try {
          await cap.hessian(l, INPUT_SITE[group[0]], h);
          await backend.finishHessian(h);
          for (const name of group) {
            check();
            const w = weightValues(lw[name], `layer ${l} ${name}`);
            const r = await gptqLinear(backend, w, h, spec);
            lw[name] = r.tensor;
            rep[name] = { sqnrDb: sqnrDb(w.data, f32Values(r.tensor)), gptqLoss: r.loss };
            layerLoss += r.loss;
            progress({
              stage: 'quantize',
              layer: l,
              linear: name,
              gptqLoss: r.loss,
              fraction: (l * TRUE_SEQUENTIAL.length + gi + 1) / steps,
            });
          }
        } finally {
          backend.releaseHessian(h); // the GPU Hessian's buffer
        }
      }
      // Advance every window through the now-quantized layer.
      await cap.advance(l);
      layers.push({ linears: rep, gptqLoss: layerLoss });
    }
  } finally {
    cap.dispose();
  }
}
