// GPU calibration (src/engine/calibrate/) against the CPU capture (CpuForward) on stories260K,
// and streaming quantization against a whole-model reference built from the core twins.
// Tolerances (the GPU forward is f32 GEMMs, the CPU's linears sum in f64, so captured activations
// differ by f32 rounding that grows a little with depth; measured values are logged):
//   Hessians, every layer and site:  max |ΔH| ≤ 1e-5 · max |H|
//   abs-max statistics:              |Δ| ≤ 1e-5 · max of the site (the reduction itself is exact:
//                                    an absmax_cols case on given rows must be bit-equal)
//   LLM.int8 outlier columns:        equal sets
//   GPTQ int4 g32 through quantizeModel, GPU vs CPU calibration (same GPU quantizer): codes
//                                    agree on ≥ 99 %, perplexity within 1 %
// Streaming (CPU backend): the result shares (===) the base's embeddings, norms and classifier,
// and equals, bit for bit, the linears quantized from the whole model at once.
import { beforeAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { CpuForward, LINEAR_INPUT_SITES, type LinearInputSite } from '../../src/core/model/forward.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { readCode, wordsPerRow } from '../../src/core/quant/packing.ts';
import { outlierColumns } from '../../src/core/quant/llmint8.ts';
import { DEFAULT_SPEC, type QuantSpec } from '../../src/core/quant/quant-spec.ts';
import { accumulateAbsMax, foldSmoothing, smoothingScales } from '../../src/core/quant/smoothquant.ts';
import { f32Tensor, type F32Tensor, type Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import {
  captureAbsMaxCpu,
  captureAbsMaxGpu,
  cpuHessianCapture,
  gpuHessianCapture,
} from '../../src/engine/calibrate/capture.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { CPU_QUANT } from '../../src/engine/quant/cpu-backend.ts';
import { GpuQuantizer } from '../../src/engine/quant/gpu-backend.ts';
import { quantizeLinear } from '../../src/engine/quant/quantize-linear.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { absMaxCols } from '../../src/gpu/quant-calib.ts';
import { readProjectFile, stories260K, tok512 } from '../unit/helpers.ts';
import { gpuContext, read, rng, run, upload, zeros } from './setup-device.ts';

let ctx: GpuContext;
let gq: GpuQuantizer;
beforeAll(async () => {
  ctx = await gpuContext();
  gq = new GpuQuantizer(ctx);
});

const model = parseLlama2c(stories260K());
const tok = Tokenizer.fromLlama2c(tok512(), 512);
const ids = (file: string): number[] =>
  new TextDecoder()
    .decode(readProjectFile(`public/data/${file}`))
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => tok.encode(l, { bos: true, eos: false }));
const windows = (file: string, n: number, len: number): number[][] => {
  const t = ids(file);
  return Array.from({ length: n }, (_, w) => t.slice(w * len, (w + 1) * len));
};
// Window lengths 96 and 260: the second runs as two chunks (256 + 4) sharing one KV cache.
const calibIds = ids('tinystories-calib.txt');
const CALIB = [calibIds.slice(0, 96), calibIds.slice(96, 356)];
const noCheck = () => {};
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('absmax_cols', () => {
  it('equals accumulateAbsMax bit for bit, from an offset, over several calls', async () => {
    const K = 37;
    const r = rng(5);
    const rowsA = 9;
    const rowsB = 300;
    const x = Float32Array.from({ length: 11 + (rowsA + rowsB) * K }, () => (r() - 0.5) * 20);
    const want = new Float32Array(K);
    accumulateAbsMax(want, x.subarray(11), rowsA);
    accumulateAbsMax(want, x.subarray(11 + rowsA * K), rowsB);
    const xb = upload(ctx, x);
    const acc = zeros(ctx, K);
    await run(ctx, (rec) => {
      absMaxCols(rec, { x: xb, xOff: 11, acc, K, rows: rowsA });
      absMaxCols(rec, { x: xb, xOff: 11 + rowsA * K, acc, K, rows: rowsB });
    });
    expect(Array.from(await read(ctx, acc, K))).toEqual(Array.from(want));
  });
});

describe('GPU calibration vs the CPU capture (stories260K, fp32)', () => {
  it('Hessians of every layer and site', async () => {
    const cpu = cpuHessianCapture(model, CALIB, CPU_QUANT, noCheck);
    const gpu = gpuHessianCapture(gq, model, CALIB, noCheck);
    const K: Record<LinearInputSite, number> = { attn: 64, wo: 64, ffn: 64, w2: 172 };
    let worst = 0;
    try {
      for (let l = 0; l < model.config.nLayers; l++) {
        for (const site of LINEAR_INPUT_SITES) {
          const hc = CPU_QUANT.hessian(K[site]);
          const hg = gq.hessian(K[site]);
          try {
            await cpu.hessian(l, site, hc);
            await gpu.hessian(l, site, hg);
            expect(hg.samples).toBe(356);
            const got = await hg.read();
            const scale = maxAbs(hc.H);
            let d = 0;
            for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - hc.H[i]));
            worst = Math.max(worst, d / scale);
            expect(d / scale, `layer ${l} ${site}: max |ΔH| / max |H|`).toBeLessThan(1e-5);
          } finally {
            gq.releaseHessian(hg);
          }
        }
        await cpu.advance(l);
        await gpu.advance(l);
      }
    } finally {
      gpu.dispose();
    }
    console.log(`GPU vs CPU Hessians: max |ΔH| / max |H| = ${worst.toExponential(2)}`);
  }, 600_000);

  it('SmoothQuant abs-max statistics and LLM.int8 outlier columns', async () => {
    const cpu = await captureAbsMaxCpu(model, CALIB, noCheck);
    const gpu = await captureAbsMaxGpu(gq, model, CALIB, noCheck);
    let worst = 0;
    for (let l = 0; l < model.config.nLayers; l++) {
      for (const s of LINEAR_INPUT_SITES) {
        const want = cpu.absMax[l][s];
        const got = gpu.absMax[l][s];
        expect(got.length).toBe(want.length);
        const scale = maxAbs(want);
        let d = 0;
        for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
        worst = Math.max(worst, d / scale);
        expect(d / scale, `layer ${l} ${s}`).toBeLessThan(1e-5);
      }
    }
    console.log(`GPU vs CPU abs-max: max |Δ| / max = ${worst.toExponential(2)}`);
    // LLM.int8's outlier columns: at thresholds that cut through the statistics, and through
    // quantizeModel (GPU capture) at its default threshold against the CPU pipeline.
    for (const threshold of [0.5, 1, 2, 6]) {
      let n = 0;
      for (let l = 0; l < model.config.nLayers; l++) {
        for (const s of LINEAR_INPUT_SITES) {
          const K = cpu.absMax[l][s].length;
          const want = outlierColumns(cpu.absMax[l][s], 1, K, threshold);
          expect(outlierColumns(gpu.absMax[l][s], 1, K, threshold), `layer ${l} ${s} > ${threshold}`).toEqual(want);
          n += want.reduce((a, v) => a + v, 0);
        }
      }
      console.log(`outlier columns above ${threshold}: ${n}, equal`);
    }
    const spec: QuantSpec = { ...DEFAULT_SPEC, method: 'llmint8' };
    const a = await quantizeModel(model, spec, { calibration: CALIB, gpu: gq });
    const b = await quantizeModel(model, spec, { calibration: CALIB });
    a.report.layers.forEach((layer, l) => expect(layer.outlierDims).toEqual(b.report.layers[l].outlierDims));
  }, 600_000);

  it('GPTQ int4 g32: GPU vs CPU calibration agree on codes and perplexity', async () => {
    const spec: QuantSpec = { ...DEFAULT_SPEC, method: 'gptq', bits: 4, group: 32 };
    const t0 = performance.now();
    const g = await quantizeModel(model, spec, { calibration: CALIB, gpu: gq });
    const t1 = performance.now();
    const c = await quantizeModel(model, spec, { calibration: CALIB, gpu: gq, cpuCalibration: true });
    const t2 = performance.now();
    let same = 0;
    let total = 0;
    g.model.weights.layers.forEach((lw, l) => {
      for (const n of LINEAR_NAMES) {
        const a = codesOf(lw[n]);
        const b = codesOf(c.model.weights.layers[l][n]);
        for (let i = 0; i < a.length; i++) same += +(a[i] === b[i]);
        total += a.length;
      }
    });
    const evalWindows = windows('tinystories-eval.txt', 4, 128);
    const ppl = async (m: LlamaModel) => (await evaluate(createCpuRunner(m), evalWindows, null)).ppl;
    const [pg, pc] = [await ppl(g.model), await ppl(c.model)];
    console.log(
      `gptq int4 g32: codes agree ${((100 * same) / total).toFixed(3)} %, ppl GPU-calib ${pg.toFixed(4)} vs CPU-calib ${pc.toFixed(4)}; ` +
        `quantize ${(t1 - t0).toFixed(0)} ms (GPU calibration) vs ${(t2 - t1).toFixed(0)} ms (CPU calibration)`,
    );
    expect(same / total).toBeGreaterThanOrEqual(0.99);
    expect(Math.abs(pg - pc) / pc).toBeLessThan(0.01);
    g.report.layers.forEach((layer, l) =>
      expect(Math.abs(layer.gptqLoss! - c.report.layers[l].gptqLoss!) / c.report.layers[l].gptqLoss!).toBeLessThan(
        0.01,
      ),
    );
  }, 600_000);
});

/** Codes of a packed q4 tensor, one per weight. */
function codesOf(t: Tensor): Uint8Array {
  const u = t as UniformQuantTensor;
  expect(u.format).toBe('q4');
  const [N, K] = u.shape;
  const out = new Uint8Array(N * K);
  const wpr = wordsPerRow(4, K);
  for (let r = 0; r < N; r++) for (let k = 0; k < K; k++) out[r * K + k] = readCode(u.buffers.data, r * wpr, k, 4);
  return out;
}

describe('streaming quantization (CPU backend)', () => {
  const bytesOf = (t: Tensor): Uint8Array[] =>
    t.format === 'f32'
      ? [new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)]
      : Object.values((t as { buffers: Record<string, ArrayBufferView> }).buffers).map(
          (v) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
        );

  it('rtn: shares the base tensors and equals each linear quantized from the whole model', async () => {
    const spec: QuantSpec = { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 };
    const { model: q } = await quantizeModel(model, spec);
    expect(q.weights.tokEmb).toBe(model.weights.tokEmb);
    expect(q.weights.rmsFinal).toBe(model.weights.rmsFinal);
    expect(q.weights.wcls).toBe(model.weights.wcls);
    q.weights.layers.forEach((lw, l) => {
      const base = model.weights.layers[l];
      expect(lw.rmsAtt).toBe(base.rmsAtt);
      expect(lw.rmsFfn).toBe(base.rmsFfn);
      expect((lw.rmsAtt as F32Tensor).data).toBe((base.rmsAtt as F32Tensor).data);
      for (const n of LINEAR_NAMES) expect(bytesOf(lw[n])).toEqual(bytesOf(quantizeLinear(base[n] as F32Tensor, spec)));
    });
    expect(model.weights.layers[0].wq.format).toBe('f32'); // the base is untouched
  });

  it('smoothquant: each layer folded as it is quantized equals folding the whole model first', async () => {
    const spec: QuantSpec = { ...DEFAULT_SPEC, method: 'smoothquant', alpha: 0.5 };
    const { model: q } = await quantizeModel(model, spec, { calibration: CALIB });
    // Whole-model reference from the core twins: statistics, every layer folded, then quantized.
    const absMax = model.weights.layers.map(() =>
      Object.fromEntries(LINEAR_INPUT_SITES.map((s) => [s, new Float32Array(s === 'w2' ? 172 : 64)])),
    );
    const f = new CpuForward(model);
    f.capture = (l, s, x, M) => accumulateAbsMax(absMax[l][s], x, M);
    for (const w of CALIB) f.forwardAll(w, 0);
    const linSpec: QuantSpec = { ...spec, method: 'llmint8', threshold: Infinity };
    expect(q.weights.tokEmb).toBe(model.weights.tokEmb);
    model.weights.layers.forEach((base, l) => {
      for (const [site, norm, names] of [
        ['attn', 'rmsAtt', ['wq', 'wk', 'wv']],
        ['ffn', 'rmsFfn', ['w1', 'w3']],
      ] as const) {
        const ws = names.map((n) => ({ data: (base[n] as F32Tensor).data, rows: base[n].shape[0] }));
        const s = smoothingScales(absMax[l][site], ws, spec.alpha);
        const folded = foldSmoothing((base[norm] as F32Tensor).data, ws, s);
        expect(bytesOf(q.weights.layers[l][norm])).toEqual(bytesOf(f32Tensor([...base[norm].shape], folded.norm)));
        names.forEach((n, i) =>
          expect(bytesOf(q.weights.layers[l][n])).toEqual(
            bytesOf(quantizeLinear(f32Tensor([...base[n].shape], folded.weights[i]), linSpec)),
          ),
        );
      }
      for (const n of ['wo', 'w2'] as const)
        expect(bytesOf(q.weights.layers[l][n])).toEqual(bytesOf(quantizeLinear(base[n] as F32Tensor, linSpec)));
    });
  });
});
