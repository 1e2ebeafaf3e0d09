// Qwen2 attention biases on the WebGPU runner (added to q, k, v inside the rope kernel) vs the
// CPU runner (core/forward.ts adds them after the q/k/v matmuls): decode, chunked prefill and
// logitsAll within the runner tests' tolerance, GPU argmax equal step by step, and the decode
// step still 6·nLayers + 3 dispatches. Models: random Qwen2-shaped ones (GQA 7:1, rotate-half,
// tied and untied, f32 and q8) and the HF stories260K fixture turned into a "Qwen2 with biases"
// checkpoint the way test/unit/hf-load.test.ts builds it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHfModel } from '../../src/core/formats/hf/load.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { argmax } from '../../src/core/model/ops.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { createGpuRunner } from '../../src/engine/gpu-runner.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { asQwen2WithBiases, folderOf, hfFixtureFiles } from '../unit/hf-fixture.ts';
import {
  randomModel,
  withAttentionBias,
  type RandomModelSpec,
  LOGIT_TOL,
  logitsOf,
  compareSteps,
} from './random-model.ts';
import { expectClose, gpuContext } from './setup-device.ts';

// Qwen2-0.5B's shape in miniature: 14 heads over 2 kv heads, rotate-half RoPE.
const QWEN: RandomModelSpec = {
  dim: 56,
  hiddenDim: 76,
  nLayers: 2,
  nHeads: 14,
  nKvHeads: 2,
  vocabSize: 101,
  seqLen: 48,
  ropeStyle: 'half',
  sharedClassifier: true,
  seed: 21,
};
const prompt9 = [1, 5, 17, 33, 2, 100, 40, 40, 7];

let ctx: GpuContext;
const runners: ModelRunner[] = [];
beforeAll(async () => {
  ctx = await gpuContext();
});
afterAll(() => runners.forEach((r) => r.dispose()));

async function gpuRunner(model: LlamaModel, prefillChunk?: number): Promise<ModelRunner> {
  const r = await createGpuRunner(ctx, model, { prefillChunk });
  runners.push(r);
  return r;
}

describe.each([
  ['tied', true, 'half'],
  ['untied, interleaved RoPE', false, 'interleaved'],
] as const)('random Qwen2-shaped model with biases (%s)', (_name, sharedClassifier, ropeStyle) => {
  const model = () => withAttentionBias(randomModel({ ...QWEN, sharedClassifier, ropeStyle }), 5, 1.5);

  it('prefill 9 + 6 decode steps: logits match the CPU runner; 6·nLayers + 3 dispatches per token', async () => {
    const m = model();
    const gpu = await gpuRunner(m);
    const worst = await compareSteps(gpu, createCpuRunner(m), prompt9, 6);
    console.log(`biases (${_name}): max |Δlogit| ${worst.toExponential(2)}`);
    const d = gpu.counters.dispatches;
    await gpu.step([3], 16, 'argmax');
    expect(gpu.counters.dispatches - d).toBe(6 * QWEN.nLayers + 3);
  });

  it('greedy: GPU argmax equals the CPU argmax step by step', async () => {
    const m = model();
    const gpu = await gpuRunner(m);
    const cpu = createCpuRunner(m);
    let feed = prompt9;
    let pos = 0;
    for (let s = 0; s < 8; s++) {
      const want = argmax(logitsOf(await cpu.step(feed, pos, 'logits')));
      expect(await gpu.step(feed, pos, 'argmax')).toEqual({ kind: 'argmax', token: want });
      pos += feed.length;
      feed = [want];
    }
  });

  it('chunked prefill (chunk 4) and logitsAll with residuals match', async () => {
    const m = model();
    const gpu = await gpuRunner(m, 4);
    await compareSteps(gpu, createCpuRunner(m), prompt9, 2);
    const tokens = Array.from({ length: 19 }, (_, i) => (i * 13 + 1) % QWEN.vocabSize);
    const want = await createCpuRunner(m).logitsAll(tokens, { residuals: true });
    const got = await gpu.logitsAll(tokens, { residuals: true });
    expectClose(got.logits, want.logits, LOGIT_TOL, 'logitsAll');
    got.residuals?.forEach((r, l) =>
      expectClose(r, want.residuals![l], { atol: 1e-5, rtol: 1e-4 }, `residual after block ${l}`),
    );
  });
});

it('the biases matter: the same model without them gives other logits', async () => {
  const plain = randomModel(QWEN);
  const biased = withAttentionBias(plain, 5, 1.5);
  const a = logitsOf(await (await gpuRunner(plain)).step(prompt9, 0, 'logits'));
  const b = logitsOf(await (await gpuRunner(biased)).step(prompt9, 0, 'logits'));
  expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeGreaterThan(0.1);
});

it('q8 linears with biases match the CPU backend', async () => {
  const m = withAttentionBias(randomModel({ ...QWEN, seed: 22 }), 6, 1);
  for (const l of m.weights.layers)
    for (const n of LINEAR_NAMES) l[n] = quantizeTensor(l[n] as F32Tensor, { format: 'q8' });
  await compareSteps(await gpuRunner(m), createCpuRunner(m), prompt9, 3);
});

it('HF stories260K as a Qwen2 checkpoint with biases: GPU = CPU, prefill + 8 greedy steps', async () => {
  const files = hfFixtureFiles();
  const qwen = asQwen2WithBiases(files);
  const { model, arch } = await loadHfModel(folderOf(qwen));
  expect(arch).toBe('qwen2');
  expect(model.weights.attnBias).toHaveLength(5);
  const prompt = [1, 403, 407, 261, 378, 29, 300, 340, 261, 385, 402, 441, 368, 46, 350, 293, 266, 301, 442];
  // stories260K's logits reach |10|: the quantized-runner tolerance (test/gpu/runner-quant.test.ts)
  const gpu = await gpuRunner(model);
  const cpu = createCpuRunner(model);
  let feed = prompt;
  let pos = 0;
  for (let s = 0; s <= 8; s++) {
    const want = logitsOf(await cpu.step(feed, pos, 'logits'));
    const got = logitsOf(await gpu.step(feed, pos, 'logits'));
    expect(argmax(got), `step ${s}: argmax`).toBe(argmax(want));
    expectClose(got, want, { atol: 5e-5, rtol: 1e-4 }, `step ${s}`);
    pos += feed.length;
    feed = [argmax(want)];
  }
});
