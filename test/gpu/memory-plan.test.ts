// The memory plan (src/core/plan/memory-plan.ts over describeModelTensors, pure, before any upload)
// against what the WebGPU runner actually allocates (runner.memory(): buffer sizes):
// - weight bytes, in total and by format: equal, for f32 (tied and untied), with Qwen2 biases,
//   quantized (q4 g32 asym f16, q8 per row, q4 act-order with gIdx, nf4, LLM.int8, and a stack
//   of unmergeable wq/wk/wv), and split across bindings;
// - KV cache bytes: equal;
// - activation bytes: equal once logitsAll has made its (chunk, vocab) logits buffer (the plan
//   counts that peak); before, smaller by exactly that buffer.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packInt8Rows, quantizeRowsInt8 } from '../../src/core/quant/llmint8.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { gpuBufferBytes, planMemory, PREFILL_CHUNK } from '../../src/core/plan/memory-plan.ts';
import { describeModelTensors } from '../../src/core/plan/model-tensors.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { quantizeTensor, type QuantizeOptions } from '../../src/core/quant/quantize-tensor.ts';
import type { F32Tensor, Tensor } from '../../src/core/tensor.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { createGpuRunner } from '../../src/engine/gpu-runner.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { actOrderTensor } from './matmul-quant-cases.ts';
import { randomModel, withAttentionBias, type RandomModelSpec, SMALL_SPEC } from './random-model.ts';
import { gpuContext } from './setup-device.ts';

const BASE: RandomModelSpec = { ...SMALL_SPEC, seqLen: 80, seed: 41 };

let ctx: GpuContext;
const runners: ModelRunner[] = [];
beforeAll(async () => {
  ctx = await gpuContext();
});
afterAll(() => runners.forEach((r) => r.dispose()));

/** Every block linear (and the classifier, when untied) through `q`. */
function quantized(model: LlamaModel, q: (t: F32Tensor, name: string) => Tensor): LlamaModel {
  for (const l of model.weights.layers) for (const n of LINEAR_NAMES) l[n] = q(l[n] as F32Tensor, n);
  if (!model.config.sharedClassifier) model.weights.wcls = q(model.weights.wcls as F32Tensor, 'wcls');
  return model;
}
const byOpts = (o: QuantizeOptions) => (t: F32Tensor) => quantizeTensor(t, o);
const untied = (seed: number) => randomModel({ ...BASE, seed, sharedClassifier: false });

const CASES: [string, () => LlamaModel, number | undefined][] = [
  ['f32, tied', () => randomModel(BASE), undefined],
  ['f32, untied, Qwen2 biases', () => withAttentionBias(untied(42), 1), undefined],
  [
    'q4 g32 asym f16 scales',
    () => quantized(untied(43), byOpts({ format: 'q4', group: 32, sym: false, scaleType: 'f16' })),
    undefined,
  ],
  ['q8 per row', () => quantized(untied(44), byOpts({ format: 'q8' })), undefined],
  [
    'q4 act-order (gIdx)',
    () =>
      quantized(untied(45), (t) =>
        actOrderTensor(t.data, t.shape[0], t.shape[1], { bits: 4, group: 16, sym: false, scaleType: 'f32', seed: 3 }),
      ),
    undefined,
  ],
  ['nf4', () => quantized(untied(46), byOpts({ format: 'nf4' })), undefined],
  [
    'llm.int8',
    () =>
      quantized(untied(47), (t) =>
        packInt8Rows(quantizeRowsInt8(t.data, t.shape[0], t.shape[1]), t.shape[0], t.shape[1], 6),
      ),
    undefined,
  ],
  // wk in q8 cannot merge with q4 wq / wv: wqkv is a stack of 3 runs, described per run
  [
    'unmergeable wq;wk;wv stack',
    () => quantized(untied(48), (t, n) => quantizeTensor(t, { format: n === 'wk' ? 'q8' : 'q4', group: 16 })),
    undefined,
  ],
  ['f32 split across bindings (cap 8000)', () => randomModel({ ...BASE, seed: 49 }), 8000],
  [
    'q4 act-order split across bindings (cap 6000)',
    () =>
      quantized(untied(50), (t) =>
        actOrderTensor(t.data, t.shape[0], t.shape[1], { bits: 4, group: 16, sym: false, scaleType: 'f16', seed: 4 }),
      ),
    6000,
  ],
];

describe.each(CASES)('%s', (_name, make, cap) => {
  it('plan = runner.memory(): weights (by format), KV cache, activations', async () => {
    const model = make();
    const tensors = describeModelTensors(model);
    const limit = cap ?? Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);
    const plan = planMemory(model.config, tensors, model.config.seqLen, {
      maxBufferSize: limit,
      maxStorageBufferBindingSize: limit,
      memoryHintBytes: null,
    });
    expect(plan.verdict).toBe(cap ? 'fits-split' : 'fits');
    if (cap && _name.startsWith('q4')) expect(plan.splits.map((s) => s.name)).toContain('l0.w13'); // a packed split, gIdx shared
    if (_name.startsWith('unmergeable'))
      expect(tensors.filter((t) => t.name.startsWith('l0.wqkv')).map((t) => t.name)).toEqual([
        'l0.wqkv.0',
        'l0.wqkv.1',
        'l0.wqkv.2',
      ]);

    const gpu = await createGpuRunner(ctx, model, cap ? { maxBindingBytes: cap } : {});
    runners.push(gpu);
    const before = gpu.memory!();
    expect(before.weightBytes).toBe(plan.weightBytes);
    expect(before.weightBytesByFormat).toEqual(plan.weightBytesByFormat);
    expect(before.kvCacheBytes).toBe(plan.kvCacheBytes);
    const chunk = Math.min(model.config.seqLen, PREFILL_CHUNK);
    const chunkLogits = gpuBufferBytes(chunk * model.config.vocabSize * 4);
    expect(before.activationBytes).toBe(plan.activationBytes - chunkLogits);
    await gpu.logitsAll([1, 2, 3]);
    const after = gpu.memory!();
    expect(after.activationBytes).toBe(plan.activationBytes);
    expect(plan.totalBytes).toBe(after.weightBytes + after.kvCacheBytes + after.activationBytes);
  });
});

it('stories260K: the plan, its weights and the runner agree', async () => {
  const model = parseLlama2c(
    new Uint8Array(readFileSync(new URL('../../public/models/stories260K.bin', import.meta.url))),
  );
  const limit = Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);
  const plan = planMemory(model.config, describeModelTensors(model), model.config.seqLen, {
    maxBufferSize: limit,
    maxStorageBufferBindingSize: limit,
    memoryHintBytes: null,
  });
  const gpu = await createGpuRunner(ctx, model);
  runners.push(gpu);
  const mem = gpu.memory!();
  expect([mem.weightBytes, mem.kvCacheBytes]).toEqual([plan.weightBytes, plan.kvCacheBytes]);
  expect(plan.cpuBytes).toBe(plan.weightBytes); // all f32
  console.log(
    `stories260K plan: weights ${plan.weightBytes}, KV ${plan.kvCacheBytes}, activations ${plan.activationBytes} (runner before logitsAll: ${mem.activationBytes})`,
  );
});
