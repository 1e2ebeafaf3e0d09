// Calibration statistics, captured on the CPU (CpuForward: the reference, and the path of
// browsers without WebGPU) or on the GPU (GpuCalibrator: the block forward on the GEMM kernels,
// statistics reduced where the activations are). Both give the quantize pipeline the same things:
//   HessianCapture — GPTQ's sequential capture: per layer, the inputs of one site accumulated into
//     a backend Hessian with the layer as it stands (earlier groups quantized), then the windows
//     advanced through the finished layer;
//   SiteStats — per layer and site, max |x| per input feature over every calibration token
//     (SmoothQuant's scales, LLM.int8's outlier columns), from one pass of the unquantized model.
import { CpuForward, LINEAR_INPUT_SITES, type LinearInputSite } from '../../core/model/forward.ts';
import type { LlamaModel } from '../../core/model/model.ts';
import { accumulateAbsMax } from '../../core/quant/smoothquant.ts';
import { yieldToEventLoop } from '../../core/yield.ts';
import { createStorage, readBuffers } from '../../gpu/buffers.ts';
import { absMaxCols } from '../../gpu/quant-calib.ts';
import type { GpuHessian } from '../../gpu/quant-gptq.ts';
import type { GptqBackend, HessianState, Mode } from '../quant/backend.ts';
import type { GpuQuantizer } from '../quant/gpu-backend.ts';
import { GpuCalibrator } from './gpu-calibrator.ts';

export type Windows = readonly (readonly number[])[];

export interface HessianCapture<H extends HessianState> {
  /** Adds to h the inputs of `site` of layer l over every window (layer l as the model holds it now). */
  hessian(l: number, site: LinearInputSite, h: H): Promise<void>;
  /** Advances every window's residual stream through layer l (as the model holds it now). */
  advance(l: number): Promise<void>;
  dispose(): void;
}

export interface SiteStats {
  absMax: Record<LinearInputSite, Float32Array>[]; // per layer: per-feature max |x| over calibration
}

/** The CPU capture: CpuForward over `m` (read at each call), residuals of every window on the CPU. */
export function cpuHessianCapture<H extends HessianState>(
  m: LlamaModel,
  calib: Windows,
  backend: GptqBackend<Mode, H>,
  check: () => void,
): HessianCapture<H> {
  const fwd = new CpuForward(m);
  const xs = calib.map((w) => fwd.embed(w as number[], 0)); // residual stream entering the current layer
  return {
    async hessian(l, site, h) {
      fwd.capture = (layer, s, x, M) => {
        if (layer === l && s === site) backend.accumulateHessian(h, { x, rows: M });
      };
      try {
        for (let w = 0; w < calib.length; w++) {
          check();
          fwd.block(l, xs[w].slice(), calib[w].length, 0);
          await yieldToEventLoop();
        }
      } finally {
        fwd.capture = undefined;
      }
    },
    async advance(l) {
      for (let w = 0; w < calib.length; w++) fwd.block(l, xs[w], calib[w].length, 0);
    },
    dispose() {},
  };
}

/** The GPU capture: each pass recorded into the quantizer's recorder, Hessians read in place. */
export function gpuHessianCapture(
  gq: GpuQuantizer,
  m: LlamaModel,
  calib: Windows,
  check: () => void,
): HessianCapture<GpuHessian> {
  const cal = new GpuCalibrator(gq, m, calib);
  return {
    async hessian(l, site, h) {
      check();
      cal.record(l, {
        until: site,
        observe: (s, x, rows) => s === site && gq.accumulateHessian(h, { buffer: x, offset: 0, rows }),
      });
      await gq.finishHessian();
      cal.release();
    },
    async advance(l) {
      check();
      cal.record(l, { advance: true });
      cal.submit();
      await yieldToEventLoop();
    },
    dispose: () => cal.dispose(),
  };
}

const siteWidths = (m: LlamaModel): Record<LinearInputSite, number> => {
  const c = m.config;
  return { attn: c.dim, wo: c.nHeads * c.headSize, ffn: c.dim, w2: c.hiddenDim };
};

/** One fp32 CPU pass over the calibration windows recording max |x| per input feature of every site. */
export async function captureAbsMaxCpu(model: LlamaModel, calib: Windows, check: () => void): Promise<SiteStats> {
  const width = siteWidths(model);
  const absMax = Array.from(
    { length: model.config.nLayers },
    () =>
      Object.fromEntries(LINEAR_INPUT_SITES.map((s) => [s, new Float32Array(width[s])])) as Record<
        LinearInputSite,
        Float32Array
      >,
  );
  const f = new CpuForward(model);
  f.capture = (l, site, x, M) => accumulateAbsMax(absMax[l][site], x, M);
  for (const w of calib) {
    check();
    f.forwardAll(w as number[], 0);
    await yieldToEventLoop();
  }
  return { absMax };
}

/** captureAbsMaxCpu on the GPU, layer by layer: the same maxima (exact), read back once at the end. */
export async function captureAbsMaxGpu(
  gq: GpuQuantizer,
  model: LlamaModel,
  calib: Windows,
  check: () => void,
): Promise<SiteStats> {
  const width = siteWidths(model);
  const cal = new GpuCalibrator(gq, model, calib);
  const accs: Record<LinearInputSite, GPUBuffer>[] = [];
  try {
    for (let l = 0; l < model.config.nLayers; l++) {
      check();
      // New buffers are zero-filled: max |x| starts at 0, as the CPU's.
      const acc = Object.fromEntries(
        LINEAR_INPUT_SITES.map((s) => [s, createStorage(gq.ctx, width[s] * 4, `absmax-l${l}-${s}`)]),
      ) as Record<LinearInputSite, GPUBuffer>;
      accs.push(acc);
      cal.record(l, {
        advance: true,
        observe: (s, x, rows) => absMaxCols(gq.rec, { x, acc: acc[s], K: width[s], rows }),
      });
      cal.submit();
      await yieldToEventLoop();
    }
    const flat = accs.flatMap((a) => LINEAR_INPUT_SITES.map((s) => [a[s], width[s]] as const));
    const words = await readBuffers(gq.ctx, flat);
    return {
      absMax: accs.map((_, l) =>
        Object.fromEntries(
          LINEAR_INPUT_SITES.map((s, i) => [s, new Float32Array(words[l * LINEAR_INPUT_SITES.length + i].buffer)]),
        ),
      ) as Record<LinearInputSite, Float32Array>[],
    };
  } finally {
    accs.forEach((a) => Object.values(a).forEach((b) => b.destroy()));
    cal.dispose();
  }
}
