// A small random Llama model built in code, for comparing the GPU runner with the CPU one.
import type { LayerWeights, LlamaConfig, LlamaModel } from '../../src/core/model/model.ts';
import type { ModelRunner, StepResult } from '../../src/engine/runner.ts';
import { argmax } from '../../src/core/model/ops.ts';
import { f32Tensor, type F32Tensor } from '../../src/core/tensor.ts';
import { expectClose, randomF32, rng } from './setup-device.ts';

type Dims = 'dim' | 'hiddenDim' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'vocabSize' | 'seqLen' | 'ropeStyle';
export type RandomModelSpec = Pick<LlamaConfig, Dims> & { sharedClassifier: boolean; seed: number };

/** The runner tests' small model: 2 layers, GQA 6 heads over 2, odd vocabulary and hidden sizes. */
export const SMALL_SPEC: RandomModelSpec = {
  dim: 48,
  hiddenDim: 100,
  nLayers: 2,
  nHeads: 6,
  nKvHeads: 2,
  vocabSize: 97,
  seqLen: 64,
  ropeStyle: 'half',
  sharedClassifier: true,
  seed: 31,
};

/** Logits are O(1); f32 GPU vs f64-accumulating CPU through 2 layers differ by ~1e-6. */
export const LOGIT_TOL = { atol: 2e-5, rtol: 1e-4 };

export const logitsOf = (r: StepResult): Float32Array => {
  if (r.kind !== 'logits') throw new Error('expected logits');
  return r.logits;
};

export function randomModel(s: RandomModelSpec): LlamaModel {
  const rand = rng(s.seed);
  const hs = s.dim / s.nHeads;
  const kvd = s.nKvHeads * hs;
  // Linear weights scaled by 1/sqrt(fan_in) keep activations O(1) through the layers.
  const linear = (out: number, inp: number): F32Tensor =>
    f32Tensor([out, inp], randomF32(rand, out * inp, Math.sqrt(3 / inp)));
  const norm = (n: number): F32Tensor =>
    f32Tensor(
      [n],
      randomF32(rand, n, 0.2).map((v) => 1 + v),
    );
  const layers: LayerWeights[] = Array.from({ length: s.nLayers }, () => ({
    rmsAtt: norm(s.dim),
    wq: linear(s.dim, s.dim),
    wk: linear(kvd, s.dim),
    wv: linear(kvd, s.dim),
    wo: linear(s.dim, s.dim),
    rmsFfn: norm(s.dim),
    w1: linear(s.hiddenDim, s.dim),
    w2: linear(s.dim, s.hiddenDim),
    w3: linear(s.hiddenDim, s.dim),
  }));
  const tokEmb = f32Tensor([s.vocabSize, s.dim], randomF32(rand, s.vocabSize * s.dim));
  return {
    config: {
      dim: s.dim,
      hiddenDim: s.hiddenDim,
      nLayers: s.nLayers,
      nHeads: s.nHeads,
      nKvHeads: s.nKvHeads,
      vocabSize: s.vocabSize,
      seqLen: s.seqLen,
      headSize: hs,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeStyle: s.ropeStyle,
      sharedClassifier: s.sharedClassifier,
    },
    weights: {
      tokEmb,
      layers,
      rmsFinal: norm(s.dim),
      wcls: s.sharedClassifier ? tokEmb : linear(s.vocabSize, s.dim),
    },
  };
}

/** `m` with random Qwen2-style q/k/v attention biases (uniform in [-scale, scale)) on every layer. */
export function withAttentionBias(m: LlamaModel, seed: number, scale = 1): LlamaModel {
  const rand = rng(seed);
  const c = m.config;
  const vec = (n: number): F32Tensor => f32Tensor([n], randomF32(rand, n, scale));
  const kvd = c.nKvHeads * c.headSize;
  const attnBias = m.weights.layers.map(() => ({ bq: vec(c.nHeads * c.headSize), bk: vec(kvd), bv: vec(kvd) }));
  return { config: c, weights: { ...m.weights, attnBias } };
}

/** Prefill `prompt`, then `steps` greedy decode steps on both runners (the CPU's argmax feeds both);
 *  logits compared every step within LOGIT_TOL. Returns the worst |Δlogit| seen. */
export async function compareSteps(
  gpu: ModelRunner,
  cpu: ModelRunner,
  prompt: number[],
  steps: number,
): Promise<number> {
  let feed = prompt;
  let pos = 0;
  let worst = 0;
  for (let s = 0; s <= steps; s++) {
    const want = logitsOf(await cpu.step(feed, pos, 'logits'));
    const got = logitsOf(await gpu.step(feed, pos, 'logits'));
    expectClose(got, want, LOGIT_TOL, `step ${s} (pos ${pos}, ${feed.length} tokens)`);
    worst = Math.max(worst, ...got.map((v, i) => Math.abs(v - want[i])));
    pos += feed.length;
    feed = [argmax(want)];
  }
  return worst;
}
