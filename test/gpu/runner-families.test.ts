// The WebGPU runner vs the CPU runner on real-config synthetic checkpoints
// (src/core/formats/synthetic.ts: published config.json, seeded bf16 weights) opened through
// src/core/formats/model-open.ts, 1–2 layers, a 512-token vocabulary and narrowed widths
// (SwiftShader is a CPU): Qwen3 (per-head q/k RMSNorm, head_dim 32 ≠ hidden 64 / 4 heads),
// Llama-3.2 (llama3 RoPE scaling with a short original_max_position_embeddings as in
// test/unit/model-families.test.ts, head_dim 32 ≠ 96 / 6), Qwen2.5 (biases) and SmolLM2
// (untied). Prefill past L, then greedy decode: logits within the runner tolerance (LOGIT_TOL)
// at every step, GPU argmax equal, chunked prefill and logitsAll equal too; 6·nLayers + 3
// dispatches per token; the memory plan equals what the runner allocates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryFolder } from '../../src/core/formats/hf/load.ts';
import { openHfFolder } from '../../src/core/formats/model-open.ts';
import { syntheticModelFiles, type SyntheticOptions } from '../../src/core/formats/synthetic.ts';
import { unsupportedOnGpu } from '../../src/core/model/gpu-support.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { argmax } from '../../src/core/model/ops.ts';
import { planMemory, PREFILL_CHUNK, gpuBufferBytes } from '../../src/core/plan/memory-plan.ts';
import { describeModelTensors } from '../../src/core/plan/model-tensors.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { createGpuRunner } from '../../src/engine/gpu-runner.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { LOGIT_TOL, logitsOf, compareSteps } from './random-model.ts';
import { expectClose, gpuContext } from './setup-device.ts';

const V = 512;
const CONTEXT = 40;
const NARROW = { hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_key_value_heads: 2 };
// L = 16, high_freq_factor 2 (published: 8192, 4): with θ 5e5 and head_dim 32, pair 0 is kept,
// pair 1 blended, pairs 2..15 scaled; prompts run past position 16.
const LLAMA3_SHORT = {
  factor: 32.0,
  high_freq_factor: 2.0,
  low_freq_factor: 1.0,
  original_max_position_embeddings: 16,
  rope_type: 'llama3',
};

const MODELS: Record<string, SyntheticOptions> = {
  'qwen3-0.6b': { family: 'qwen3-0.6b', layers: 2, vocabSize: V, config: { ...NARROW, head_dim: 32 } },
  'llama-3.2-1b': {
    family: 'llama-3.2-1b',
    layers: 2,
    vocabSize: V,
    config: { ...NARROW, hidden_size: 96, num_attention_heads: 6, head_dim: 32, rope_scaling: LLAMA3_SHORT },
  },
  'qwen2.5-0.5b': { family: 'qwen2.5-0.5b', layers: 1, vocabSize: V, config: NARROW },
  'smollm2-135m (untied)': {
    family: 'smollm2-135m',
    layers: 1,
    vocabSize: V,
    config: { ...NARROW, tie_word_embeddings: false },
  },
};

/** Seeded token ids in [0, V). */
const tokens = (n: number, seed: number): number[] => {
  let s = seed;
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2147483648) % V);
};

const open = async (opts: SyntheticOptions): Promise<LlamaModel> =>
  (await openHfFolder(memoryFolder(syntheticModelFiles(opts)), { chooseContext: () => CONTEXT })).model;

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

describe.each(Object.entries(MODELS))('%s', (name, opts) => {
  it('runs on the GPU: prefill 18 + 8 decode steps = the CPU runner; 6·nLayers + 3 dispatches per token', async () => {
    const model = await open(opts);
    expect(unsupportedOnGpu(model)).toBeUndefined();
    const c = model.config;
    if (name.startsWith('qwen3')) {
      expect([c.headSize, c.nHeads * c.headSize, c.dim]).toEqual([32, 128, 64]);
      expect(model.weights.qkNorm).toHaveLength(2);
    }
    if (name.startsWith('llama')) {
      expect([c.headSize, c.dim / c.nHeads]).toEqual([32, 16]);
      expect(c.ropeScaling).toMatchObject({ type: 'llama3', originalMaxPositions: 16 });
    }
    const gpu = await gpuRunner(model);
    const worst = await compareSteps(gpu, createCpuRunner(model), tokens(18, 3), 8);
    console.log(`${name}: max |Δlogit| ${worst.toExponential(2)}`);
    const d = gpu.counters.dispatches;
    await gpu.step([7], 27, 'argmax');
    expect(gpu.counters.dispatches - d).toBe(6 * c.nLayers + 3);
  }, 120_000);

  it('greedy: GPU argmax equals the CPU argmax step by step past position 16', async () => {
    const model = await open(opts);
    const gpu = await gpuRunner(model);
    const cpu = createCpuRunner(model);
    let feed = tokens(17, 5);
    let pos = 0;
    for (let s = 0; s < 10; s++) {
      const want = argmax(logitsOf(await cpu.step(feed, pos, 'logits')));
      expect(await gpu.step(feed, pos, 'argmax'), `step ${s}`).toEqual({ kind: 'argmax', token: want });
      pos += feed.length;
      feed = [want];
    }
  }, 120_000);

  it('chunked prefill (chunk 8) and logitsAll over 30 positions match', async () => {
    const model = await open(opts);
    const gpu = await gpuRunner(model, 8);
    await compareSteps(gpu, createCpuRunner(model), tokens(21, 7), 2);
    const ids = tokens(30, 11);
    const want = await createCpuRunner(model).logitsAll(ids, { residuals: true });
    const got = await gpu.logitsAll(ids, { residuals: true });
    expectClose(got.logits, want.logits, LOGIT_TOL, 'logitsAll');
    got.residuals?.forEach((r, l) =>
      expectClose(r, want.residuals![l], { atol: 1e-5, rtol: 1e-4 }, `residual after block ${l}`),
    );
  }, 120_000);
});

describe('the features are live in these checks', () => {
  it('Qwen3 without its q/k norms and Llama-3.2 without its RoPE scaling give other logits', async () => {
    const qwen3 = await open(MODELS['qwen3-0.6b']);
    const llama = await open(MODELS['llama-3.2-1b']);
    const ids = tokens(20, 13);
    const last = async (m: LlamaModel) => logitsOf(await createCpuRunner(m).step(ids, 0, 'logits'));
    const gap = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    const noNorm = { ...qwen3, weights: { ...qwen3.weights, qkNorm: undefined } };
    const noScaling = { ...llama, config: { ...llama.config, ropeScaling: undefined } };
    expect(gap(await last(qwen3), await last(noNorm))).toBeGreaterThan(100 * LOGIT_TOL.atol);
    expect(gap(await last(llama), await last(noScaling))).toBeGreaterThan(100 * LOGIT_TOL.atol);
  });

  it('Qwen3: plan = runner.memory() with the q/k norm vectors (weights, KV cache, activations)', async () => {
    const model = await open(MODELS['qwen3-0.6b']);
    const tensors = describeModelTensors(model);
    expect(tensors.filter((t) => t.name.endsWith('.qk_norm')).map((t) => t.cols)).toEqual([64, 64]);
    const limit = Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);
    const plan = planMemory(model.config, tensors, CONTEXT, {
      maxBufferSize: limit,
      maxStorageBufferBindingSize: limit,
      memoryHintBytes: null,
    });
    const gpu = await gpuRunner(model);
    const mem = gpu.memory!();
    expect(mem.weightBytes).toBe(plan.weightBytes);
    expect(mem.weightBytesByFormat).toEqual(plan.weightBytesByFormat);
    expect(mem.kvCacheBytes).toBe(plan.kvCacheBytes);
    const chunkLogits = gpuBufferBytes(Math.min(CONTEXT, PREFILL_CHUNK) * V * 4);
    expect(mem.activationBytes).toBe(plan.activationBytes - chunkLogits);
  });
});
