// GPTQ CPU reference on a real stories260K layer with captured calibration activations.
// Independent checks: the OBS identity (reported loss = ½ ΔW H_damped ΔWᵀ), reduction to RTN
// when H is diagonal, lazy-batch invariance, and a lower proxy error than RTN.
import { describe, expect, it } from 'vitest';
import { CpuForward } from '../../src/core/model/forward.ts';
import {
  GPTQ_DEFAULTS,
  HessianAccumulator,
  fitUniformRows,
  gptqQuantize,
  type GptqOptions,
} from '../../src/core/quant/gptq.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { roundHalfEven } from '../../src/core/quant/rounding.ts';
import { readProjectFile, seededRandom, stories260K, tok512 } from './helpers.ts';

const model = parseLlama2c(stories260K());
const tok = Tokenizer.fromLlama2c(tok512(), 512);

/** H of layer 2's down projection (w2, 172 inputs) over two 128-token calibration windows. */
function captureHessian(site: 'w2' | 'attn', layer: number): HessianAccumulator {
  const text = new TextDecoder().decode(readProjectFile('public/data/tinystories-calib.txt'));
  const ids = text
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => tok.encode(l, { bos: true, eos: false }));
  const K = site === 'w2' ? model.config.hiddenDim : model.config.dim;
  const acc = new HessianAccumulator(K);
  for (let w = 0; w < 2; w++) {
    const f = new CpuForward(model);
    f.capture = (l, s, x, M) => {
      if (l === layer && s === site) acc.add(x, M);
    };
    f.forward(ids.slice(w * 128, (w + 1) * 128), 0);
  }
  return acc;
}

const damped = (H: Float64Array, n: number, damp: number): Float64Array => {
  const D = Float64Array.from(H);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += H[i * n + i];
  mean /= n;
  for (let i = 0; i < n; i++) D[i * n + i] += damp * mean;
  return D;
};

/** ½ Σ_rows ΔW H ΔWᵀ: the quadratic proxy error of a quantized layer. */
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

/** Round-to-nearest with per-row or per-group grids: the baseline GPTQ must beat. */
function rtn(W: Float32Array, rows: number, cols: number, bits: number, group: number): Float32Array {
  const G = group > 0 ? group : cols;
  const out = new Float32Array(W.length);
  const W64 = Float64Array.from(W);
  const maxq = 2 ** bits - 1;
  for (let c0 = 0; c0 < cols; c0 += G) {
    const { scale, zero } = fitUniformRows(W64, rows, cols, c0, Math.min(cols, c0 + G), bits, false);
    for (let r = 0; r < rows; r++) {
      for (let c = c0; c < Math.min(cols, c0 + G); c++) {
        const q = Math.min(maxq, Math.max(0, roundHalfEven(W[r * cols + c] / scale[r]) + zero[r]));
        out[r * cols + c] = scale[r] * (q - zero[r]);
      }
    }
  }
  return out;
}

const w2 = model.weights.layers[2].w2 as F32Tensor; // (64, 172)
const [rows, cols] = w2.shape;
const acc = captureHessian('w2', 2);
const opts = (o: Partial<GptqOptions>): GptqOptions => ({ ...GPTQ_DEFAULTS, ...o });

describe('GPTQ CPU reference', () => {
  it('captured a real Hessian: symmetric, positive diagonal', () => {
    expect(acc.samples).toBe(256);
    expect(acc.H[3 * cols + 5]).toBeCloseTo(acc.H[5 * cols + 3], 12);
    for (let i = 0; i < cols; i++) expect(acc.H[i * cols + i]).toBeGreaterThan(0);
  });

  for (const o of [
    { bits: 4, group: 0 },
    { bits: 3, group: 32, actOrder: true },
    { bits: 3, group: 32, actOrder: true, staticGroups: true },
    { bits: 4, group: 64, sym: true, blockSize: 7 },
    { bits: 2, group: 0, actOrder: true, blockSize: 50 },
  ] as Partial<GptqOptions>[]) {
    it(`reported loss equals ½ ΔW H_damped ΔWᵀ (${JSON.stringify(o)})`, () => {
      const r = gptqQuantize(w2.data, rows, cols, acc.H, opts(o));
      const expected = proxyError(w2.data, r.dequant, rows, cols, damped(acc.H, cols, 0.01));
      // dequant is stored as f32, so compare with a relative tolerance.
      expect(Math.abs(r.loss - expected) / expected).toBeLessThan(1e-4);
    });
  }

  it('is exact RTN when the Hessian is diagonal (no cross-column error feedback)', () => {
    const rnd = seededRandom(5);
    const H = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) H[i * cols + i] = 0.5 + rnd();
    for (const group of [0, 32]) {
      const r = gptqQuantize(w2.data, rows, cols, H, opts({ bits: 3, group }));
      expect(r.dequant).toEqual(rtn(w2.data, rows, cols, 3, group));
    }
  });

  it('lazy batch updates do not change per-row results', () => {
    const a = gptqQuantize(w2.data, rows, cols, acc.H, opts({ bits: 3, group: 0, blockSize: 128 }));
    const b = gptqQuantize(w2.data, rows, cols, acc.H, opts({ bits: 3, group: 0, blockSize: 3 }));
    for (let i = 0; i < a.dequant.length; i++) expect(b.dequant[i]).toBeCloseTo(a.dequant[i], 5);
  });

  it('beats round-to-nearest on the proxy error at 3 bits, and act-order helps', () => {
    const H = acc.H;
    const base = proxyError(w2.data, rtn(w2.data, rows, cols, 3, 0), rows, cols, H);
    const g = proxyError(
      w2.data,
      gptqQuantize(w2.data, rows, cols, H, opts({ bits: 3, group: 0 })).dequant,
      rows,
      cols,
      H,
    );
    const ga = proxyError(
      w2.data,
      gptqQuantize(w2.data, rows, cols, H, opts({ bits: 3, group: 0, actOrder: true })).dequant,
      rows,
      cols,
      H,
    );
    expect(g).toBeLessThan(0.7 * base);
    expect(ga).toBeLessThan(g);
  });

  it('zeroes dead inputs and gives act-order groups exactly G columns each', () => {
    const H = Float64Array.from(acc.H);
    for (let j = 0; j < cols; j++) H[7 * cols + j] = H[j * cols + 7] = 0;
    const r = gptqQuantize(w2.data, rows, cols, H, opts({ bits: 4, group: 32, actOrder: true }));
    for (let row = 0; row < rows; row++) expect(r.dequant[row * cols + 7]).toBe(0);
    const sizes = new Map<number, number>();
    for (const g of r.gIdx) sizes.set(g, (sizes.get(g) ?? 0) + 1);
    expect([...sizes.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sizes.get(5)).toBe(172 - 5 * 32);
  });
});
