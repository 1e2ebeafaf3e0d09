// GPTQ on the GPU (f32) vs the float64 CPU twin (src/core/quant/gptq.ts, src/core/quant/linalg.ts) on a real
// stories260K layer with captured calibration activations. Tolerances (f32 vs f64; the values
// seen on SwiftShader are logged, all far inside them: ~4e-7, ~1e-6, 100% of codes, ≤ 1.4e-6):
//   H:  |ΔH_ij| ≤ 1e-5 · √(H_ii H_jj) (Cauchy–Schwarz scale of entry ij)
//   U:  max |ΔU| ≤ 1e-4 · max |U|
//   GPTQ: codes agree on ≥ 99% of weights (f32 vs f64 may flip ties near rounding boundaries, and
//         a flipped code feeds slightly different errors forward), |Δloss| ≤ 1e-3 of the CPU
//         loss, the same gIdx, and the OBS identity on the GPU's own result: its reported loss
//         equals ½ ΔW Ĥ ΔWᵀ (Ĥ damped, from the CPU H; ΔW against W with dead inputs zeroed)
//         within 1e-3.
import { beforeAll, describe, expect, it } from 'vitest';
import { CpuForward } from '../../src/core/model/forward.ts';
import {
  GPTQ_DEFAULTS,
  HessianAccumulator,
  gptqQuantize,
  type GptqOptions,
  type GptqResult,
} from '../../src/core/quant/gptq.ts';
import { upperCholeskyOfInverse } from '../../src/core/quant/linalg.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { upperCholeskyOfInverseGpu } from '../../src/gpu/quant-cholesky.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { GpuQuantizer } from '../../src/engine/quant/gpu-backend.ts';
import { readProjectFile, stories260K, tok512 } from '../unit/helpers.ts';
import { gpuContext, rng } from './setup-device.ts';

let ctx: GpuContext;
let gq: GpuQuantizer;
beforeAll(async () => {
  ctx = await gpuContext();
  gq = new GpuQuantizer(ctx);
});

const model = parseLlama2c(stories260K());
const tok = Tokenizer.fromLlama2c(tok512(), 512);

/** Inputs (M, K) of one site of one layer over two 128-token calibration windows. */
function captureInputs(site: 'w2' | 'attn', layer: number): { x: Float32Array; M: number }[] {
  const text = new TextDecoder().decode(readProjectFile('public/data/tinystories-calib.txt'));
  const ids = text
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => tok.encode(l, { bos: true, eos: false }));
  const out: { x: Float32Array; M: number }[] = [];
  for (let w = 0; w < 2; w++) {
    const f = new CpuForward(model);
    f.capture = (l, s, x, M, K) => {
      if (l === layer && s === site) out.push({ x: x.slice(0, M * K), M });
    };
    f.forward(ids.slice(w * 128, (w + 1) * 128), 0);
  }
  return out;
}

const cpuHessian = (xs: { x: Float32Array; M: number }[], K: number): Float64Array => {
  const acc = new HessianAccumulator(K);
  for (const { x, M } of xs) acc.add(x, M);
  return acc.H;
};

const damped = (H: Float64Array, n: number, damp: number): Float64Array => {
  const D = Float64Array.from(H);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += H[i * n + i] === 0 ? 1 : H[i * n + i];
  mean /= n;
  for (let i = 0; i < n; i++) D[i * n + i] = (H[i * n + i] === 0 ? 1 : H[i * n + i]) + damp * mean;
  return D;
};

/** ½ Σ_rows ΔW Ĥ ΔWᵀ. */
function proxyError(W: Float32Array, Wq: Float32Array, rows: number, cols: number, H: Float64Array): number {
  let total = 0;
  const d = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) d[c] = W[r * cols + c] - Wq[r * cols + c];
    for (let i = 0; i < cols; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += H[i * cols + j] * d[j];
      total += d[i] * s;
    }
  }
  return total / 2;
}

function expectHessianClose(got: Float64Array, want: Float64Array, K: number, what: string): void {
  let worst = 0;
  for (let i = 0; i < K; i++) {
    for (let j = 0; j < K; j++) {
      const scale = Math.sqrt(want[i * K + i] * want[j * K + j]) || 1;
      worst = Math.max(worst, Math.abs(got[i * K + j] - want[i * K + j]) / scale);
    }
  }
  expect(worst, `${what}: max |ΔH_ij| / √(H_ii H_jj)`).toBeLessThan(1e-5);
  console.log(`${what}: max |ΔH_ij| / √(H_ii H_jj) = ${worst.toExponential(2)}`);
}

/** W with the dead inputs (H[c, c] = 0) zeroed: what GPTQ quantizes and its loss measures against. */
const liveW = (W: Float32Array, rows: number, cols: number, H: Float64Array): Float32Array =>
  W.map((v, i) => (H[(i % cols) * cols + (i % cols)] === 0 ? 0 : v));

function compare(
  gpu: GptqResult,
  cpu: GptqResult,
  W: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array,
  damp: number,
  what: string,
) {
  let same = 0;
  for (let i = 0; i < cpu.codes.length; i++) if (gpu.codes[i] === cpu.codes[i]) same++;
  const agree = same / cpu.codes.length;
  expect(agree, `${what}: code agreement`).toBeGreaterThanOrEqual(0.99);
  expect(Math.abs(gpu.loss - cpu.loss) / cpu.loss, `${what}: loss ${gpu.loss} vs ${cpu.loss}`).toBeLessThan(1e-3);
  expect(Array.from(gpu.gIdx), `${what}: gIdx`).toEqual(Array.from(cpu.gIdx));
  expect(gpu.scales.length).toBe(cpu.scales.length);
  const obs = proxyError(liveW(W, rows, cols, H), gpu.dequant, rows, cols, damped(H, cols, damp));
  expect(Math.abs(gpu.loss - obs) / obs, `${what}: OBS identity ${gpu.loss} vs ${obs}`).toBeLessThan(1e-3);
  return { agree, lossRel: Math.abs(gpu.loss - cpu.loss) / cpu.loss, obsRel: Math.abs(gpu.loss - obs) / obs };
}

const w2 = model.weights.layers[2].w2 as F32Tensor; // (64, 172)
const [rows, cols] = w2.shape;
const xs2 = captureInputs('w2', 2);
const H2 = cpuHessian(xs2, cols);
const opts = (o: Partial<GptqOptions>): GptqOptions => ({ ...GPTQ_DEFAULTS, ...o });

describe('Hessian accumulation (GEMM XᵀX, running average)', () => {
  it('GpuHessian ≡ HessianAccumulator over the captured windows (w2 of layer 2, K = 172)', async () => {
    const h = gq.hessian(cols);
    for (const { x, M } of xs2) h.add(x, M);
    expect(h.samples).toBe(256);
    expectHessianClose(await h.read(), H2, cols, 'H');
    h.destroy();
  });

  it('odd K and token counts (1, 7, 33), several adds', async () => {
    const rand = rng(5);
    for (const K of [1, 7, 33, 100]) {
      const acc = new HessianAccumulator(K);
      const h = gq.hessian(K);
      for (const T of [1, 7, 33]) {
        const x = Float32Array.from({ length: T * K }, () => rand() * 2 - 1);
        acc.add(x, T);
        h.add(x, T);
      }
      expectHessianClose(await h.read(), acc.H, K, `K=${K}`);
      h.destroy();
    }
  });
});

describe('U = upper Cholesky factor of Ĥ⁻¹ (blocked f32 Cholesky + triangular inverse)', () => {
  it('random SPD matrices of sizes 1, 7, 32, 33, 100 and the real damped H', async () => {
    const rand = rng(6);
    const cases: [number, Float64Array][] = [[cols, damped(H2, cols, 0.01)]];
    for (const n of [1, 7, 32, 33, 100]) {
      const B = Float64Array.from({ length: n * n }, () => rand() - 0.5);
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += B[i * n + k] * B[j * n + k];
          A[i * n + j] = s / n + (i === j ? 0.1 : 0);
        }
      cases.push([n, A]);
    }
    const rec = new Recorder(ctx);
    for (const [n, A] of cases) {
      const want = upperCholeskyOfInverse(Float64Array.from(A), n);
      const got = await upperCholeskyOfInverseGpu(ctx, rec, A, n);
      let maxU = 0;
      let maxD = 0;
      for (let i = 0; i < n * n; i++) {
        maxU = Math.max(maxU, Math.abs(want[i]));
        maxD = Math.max(maxD, Math.abs(got[i] - want[i]));
      }
      expect(maxD / maxU, `n=${n}: max |ΔU| / max |U|`).toBeLessThan(1e-4);
      console.log(`U n=${n}: max |ΔU| / max |U| = ${(maxD / maxU).toExponential(2)}`);
    }
  });

  it('a matrix that is not positive definite throws like the CPU twin', async () => {
    const A = Float64Array.of(1, 2, 2, 1);
    expect(() => upperCholeskyOfInverse(Float64Array.from(A), 2)).toThrow(/positive definite/);
    await expect(upperCholeskyOfInverseGpu(ctx, new Recorder(ctx), A, 2)).rejects.toMatchObject({
      code: 'bad-argument',
    });
  });
});

describe('GPTQ column loop with lazy block updates', () => {
  for (const o of [
    { bits: 4, group: 0 },
    { bits: 4, group: 32 },
    { bits: 3, group: 32, actOrder: true },
    { bits: 3, group: 32, actOrder: true, staticGroups: true },
    { bits: 4, group: 64, sym: true, blockSize: 7 },
    { bits: 2, group: 0, actOrder: true, blockSize: 50 },
    { bits: 8, group: 96, blockSize: 150 },
  ] as Partial<GptqOptions>[]) {
    it(`real layer, CPU H: ${JSON.stringify(o)}`, async () => {
      const cpu = gptqQuantize(w2.data, rows, cols, H2, opts(o));
      const gpu = await gq.gptq(w2.data, rows, cols, H2, opts(o));
      const m = compare(gpu, cpu, w2.data, rows, cols, H2, 0.01, JSON.stringify(o));
      console.log(
        `gptq ${JSON.stringify(o)}: codes agree ${(100 * m.agree).toFixed(2)}%, loss rel ${m.lossRel.toExponential(2)}, OBS rel ${m.obsRel.toExponential(2)}`,
      );
    });
  }

  it('end to end on the GPU: GpuHessian → gptq, with dead inputs (wq of layer 0)', async () => {
    const wq = model.weights.layers[0].wq as F32Tensor; // (64, 64)
    const [r, c] = wq.shape;
    const xs = captureInputs('attn', 0).map(({ x, M }) => {
      const y = x.slice();
      for (let t = 0; t < M; t++) for (const dead of [3, 40]) y[t * c + dead] = 0; // inputs never active
      return { x: y, M };
    });
    const H = cpuHessian(xs, c);
    const h = gq.hessian(c);
    for (const { x, M } of xs) h.add(x, M);
    for (const o of [
      { bits: 4, group: 16 },
      { bits: 3, group: 0, actOrder: true },
    ] as Partial<GptqOptions>[]) {
      const t0 = performance.now();
      const gpu = await gq.gptq(wq.data, r, c, h, opts(o));
      const ms = performance.now() - t0;
      const cpu = gptqQuantize(wq.data, r, c, H, opts(o));
      const m = compare(gpu, cpu, wq.data, r, c, H, 0.01, `wq ${JSON.stringify(o)}`);
      for (let row = 0; row < r; row++) for (const dead of [3, 40]) expect(gpu.dequant[row * c + dead]).toBe(0);
      console.log(
        `gptq wq GPU-H ${JSON.stringify(o)}: ${ms.toFixed(0)} ms, codes agree ${(100 * m.agree).toFixed(2)}%, loss rel ${m.lossRel.toExponential(2)}`,
      );
    }
    h.destroy();
  });
});
