// The GPU runner vs the CPU runner (src/core/model/forward.ts, built from ops.ts) on small random
// models: prefill of 9 tokens, then decode steps; logits within tolerance, argmax equal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { quantizeTensor, type QuantizeOptions } from '../../src/core/quant/quantize-tensor.ts';
import { packInt8Rows, quantizeRowsInt8 } from '../../src/core/quant/llmint8.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { argmax } from '../../src/core/model/ops.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { createNodeGpuContext } from '../../src/cli/dawn.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { createGpuRunner } from '../../src/engine/gpu-runner.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { randomModel, type RandomModelSpec, LOGIT_TOL, SMALL_SPEC, logitsOf, compareSteps } from './random-model.ts';
import { expectClose, gpuContext } from './setup-device.ts';

const BASE: RandomModelSpec = { ...SMALL_SPEC, ropeStyle: 'interleaved', seed: 1 };

let sg: GpuContext;
let wg: GpuContext;
const runners: ModelRunner[] = [];
beforeAll(async () => {
  sg = await gpuContext();
  wg = await gpuContext({ disableSubgroups: true });
});
afterAll(() => runners.forEach((r) => r.dispose()));

async function gpuRunner(ctx: GpuContext, model: LlamaModel, prefillChunk?: number): Promise<ModelRunner> {
  const r = await createGpuRunner(ctx, model, { prefillChunk });
  runners.push(r);
  return r;
}

const prompt9 = [1, 5, 17, 33, 2, 96, 40, 40, 7];

describe.each([
  ['interleaved', true],
  ['interleaved', false],
  ['half', true],
  ['half', false],
] as const)('rope %s, shared classifier %s', (ropeStyle, sharedClassifier) => {
  const spec = { ...BASE, ropeStyle, sharedClassifier, seed: ropeStyle === 'half' ? 11 : 3 };

  it('prefill 9 tokens then 6 decode steps: logits match the CPU runner', async () => {
    const model = randomModel(spec);
    await compareSteps(await gpuRunner(sg, model), createCpuRunner(model), prompt9, 6);
  });

  it('argmax on the GPU equals argmax of the CPU logits, step by step', async () => {
    const model = randomModel(spec);
    const gpu = await gpuRunner(sg, model);
    const cpu = createCpuRunner(model);
    let feed = prompt9;
    let pos = 0;
    for (let s = 0; s < 8; s++) {
      const want = argmax(logitsOf(await cpu.step(feed, pos, 'logits')));
      const got = await gpu.step(feed, pos, 'argmax');
      expect(got).toEqual({ kind: 'argmax', token: want });
      pos += feed.length;
      feed = [want];
    }
  });
});

describe('runner paths', () => {
  it('workgroup-reduction kernels (subgroups disabled) give the same logits', async () => {
    const model = randomModel({ ...BASE, seed: 5 });
    await compareSteps(await gpuRunner(wg, model), createCpuRunner(model), prompt9, 4);
  });

  it('chunked prefill (chunk 4 → 9 tokens in 3 passes, one submit) matches', async () => {
    const model = randomModel({ ...BASE, seed: 6, ropeStyle: 'half' });
    const gpu = await gpuRunner(sg, model, 4);
    const submits = gpu.counters.submits;
    await compareSteps(gpu, createCpuRunner(model), prompt9, 2);
    expect(gpu.counters.submits - submits).toBe(3); // prefill + 2 decode steps
  });

  it('a full-context prefill (64 tokens) and the last position', async () => {
    const model = randomModel({ ...BASE, seed: 7 });
    const tokens = Array.from({ length: 64 }, (_, i) => (i * 37 + 3) % 97);
    const gpu = await gpuRunner(sg, model, 16);
    const cpu = createCpuRunner(model);
    expectClose(
      logitsOf(await gpu.step(tokens, 0, 'logits')),
      logitsOf(await cpu.step(tokens, 0, 'logits')),
      LOGIT_TOL,
      '64-token prefill',
    );
  });

  it('logitsAll: every position and each block residual match the CPU runner', async () => {
    const model = randomModel({ ...BASE, seed: 8, sharedClassifier: false });
    const tokens = Array.from({ length: 21 }, (_, i) => (i * 13 + 1) % 97);
    const gpu = await gpuRunner(sg, model, 8); // 3 chunks
    const want = await createCpuRunner(model).logitsAll(tokens, { residuals: true });
    const got = await gpu.logitsAll(tokens, { residuals: true });
    expectClose(got.logits, want.logits, LOGIT_TOL, 'logitsAll');
    expect(got.residuals?.length).toBe(BASE.nLayers);
    got.residuals?.forEach((r, l) =>
      expectClose(r, want.residuals![l], { atol: 1e-5, rtol: 1e-4 }, `residual after block ${l}`),
    );
  });

  it('counts one submit per step and 6·nLayers + 3 dispatches per decode token', async () => {
    const model = randomModel({ ...BASE, seed: 9, nLayers: 3 });
    const gpu = await gpuRunner(sg, model);
    await gpu.step(prompt9, 0, 'argmax');
    const before = { ...gpu.counters };
    await gpu.step([4], 9, 'argmax');
    await gpu.step([5], 10, 'argmax');
    expect(gpu.counters.submits - before.submits).toBe(2);
    expect(gpu.counters.forwards - before.forwards).toBe(2);
    expect((gpu.counters.dispatches - before.dispatches) / 2).toBe(6 * 3 + 3);
    // 'logits' skips the argmax dispatch
    const d = gpu.counters.dispatches;
    await gpu.step([6], 11, 'logits');
    expect(gpu.counters.dispatches - d).toBe(6 * 3 + 2);
  });

  it('rejects positions past the context, bad tokens and overlapping steps with bad-argument', async () => {
    const model = randomModel({ ...BASE, seed: 10 });
    const gpu = await gpuRunner(sg, model);
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (isNibbleError(e) ? e.code : String(e)),
      );
    expect(await code(gpu.step([1, 2], 63, 'argmax'))).toBe('bad-argument');
    expect(await code(gpu.step([97], 0, 'argmax'))).toBe('bad-argument');
    expect(await code(gpu.step([], 0, 'argmax'))).toBe('bad-argument');
    expect(await code(gpu.step([1], -1, 'argmax'))).toBe('bad-argument');
    const first = gpu.step([1], 0, 'argmax');
    expect(await code(gpu.step([1], 1, 'argmax'))).toBe('bad-argument');
    await first;
    expect(await code(gpu.step([1], 63, 'argmax'))).toBe('ok'); // the last position is fine
  });

  it('rejects steps with device-lost once the device is gone', async () => {
    const own = await createNodeGpuContext({ disableSubgroups: true });
    const gpu = await createGpuRunner(own, randomModel({ ...BASE, seed: 12 }));
    expect((await gpu.step([1, 2], 0, 'argmax')).kind).toBe('argmax');
    own.destroy();
    await own.lost;
    const err = await gpu.step([3], 2, 'argmax').catch((e: unknown) => e);
    expect(isNibbleError(err) && err.code).toBe('device-lost');
  });

  // Quantized linears stay packed on the GPU (dequant-fused kernels; test/gpu/matmul-quant*.test.ts,
  // runner-quant.test.ts); the CPU backend decodes the same packed data, so the two must agree.
  it.each([
    ['q8 per row', { format: 'q8' }],
    ['q4 group 16, f16 scales', { format: 'q4', group: 16, scaleType: 'f16' }],
    ['nf4', { format: 'nf4' }],
  ] as [string, QuantizeOptions][])('quantized linears (%s) match the CPU backend', async (_name, q) => {
    const model = randomModel({ ...BASE, seed: 13, sharedClassifier: false });
    for (const l of model.weights.layers) {
      for (const n of LINEAR_NAMES) l[n] = quantizeTensor(l[n] as F32Tensor, q);
    }
    model.weights.wcls = quantizeTensor(model.weights.wcls as F32Tensor, q);
    await compareSteps(await gpuRunner(sg, model), createCpuRunner(model), prompt9, 3);
  });

  it('runs LLM.int8 weights (packed int8, dot4I8Packed) and matches the CPU backend', async () => {
    const model = randomModel({ ...BASE, seed: 14 });
    for (const l of model.weights.layers) {
      for (const n of LINEAR_NAMES) {
        const w = l[n] as F32Tensor;
        const [N, K] = w.shape;
        l[n] = packInt8Rows(quantizeRowsInt8(w.data, N, K), N, K, 6);
      }
    }
    await compareSteps(await gpuRunner(sg, model), createCpuRunner(model), prompt9, 3);
  });
});
