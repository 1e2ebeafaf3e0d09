// Weights split across bindings (GpuRunnerOptions.maxBindingBytes forces a tiny cap): the
// embedding, the classifier and some linears in 2–5 row parts with a shorter last part, per the
// rules in src/core/plan/memory-plan.ts. The split runner must give the same logits as the unsplit GPU
// runner (bit for bit: every output is the same kernel over the same K) and as the CPU runner
// (within the runner tests' tolerance): decode, prefill, logitsAll, greedy argmax. A row or a
// per-layer KV cache larger than the cap is a typed 'too-large' error with the plan's reason.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { planMemory, type MemoryPlan } from '../../src/core/plan/memory-plan.ts';
import { describeModelTensors } from '../../src/core/plan/model-tensors.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { argmax } from '../../src/core/model/ops.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { createGpuRunner } from '../../src/engine/gpu-runner.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { randomModel, withAttentionBias, LOGIT_TOL, SMALL_SPEC, logitsOf } from './random-model.ts';
import { expectClose, gpuContext } from './setup-device.ts';

const BASE = SMALL_SPEC;
const prompt9 = [1, 5, 17, 33, 2, 96, 40, 40, 7];

let ctx: GpuContext;
const runners: ModelRunner[] = [];
beforeAll(async () => {
  ctx = await gpuContext();
});
afterAll(() => runners.forEach((r) => r.dispose()));

async function gpuRunner(
  model: LlamaModel,
  opts: { maxBindingBytes?: number; prefillChunk?: number } = {},
): Promise<ModelRunner> {
  const r = await createGpuRunner(ctx, model, opts);
  runners.push(r);
  return r;
}
const planFor = (model: LlamaModel, cap: number): MemoryPlan =>
  planMemory(model.config, describeModelTensors(model), model.config.seqLen, {
    maxBufferSize: cap,
    maxStorageBufferBindingSize: cap,
    memoryHintBytes: null,
  });
const partsOf = (plan: MemoryPlan, name: string): number => plan.splits.find((s) => s.name === name)?.parts ?? 1;

/**
 * Split vs unsplit GPU vs CPU: prefill + `steps` decode steps (logits), then logitsAll over
 * `evalTokens` (chunked), then greedy argmax steps; the decode dispatch count adds one per
 * extra part of every split linear (the embedding costs one dispatch however it is split).
 */
async function check(
  model: LlamaModel,
  cap: number,
  prompt: number[],
  steps: number,
  evalTokens: number[],
  tol = LOGIT_TOL,
): Promise<void> {
  const split = await gpuRunner(model, { maxBindingBytes: cap, prefillChunk: 8 });
  const whole = await gpuRunner(model, { prefillChunk: 8 });
  const cpu = createCpuRunner(model);
  let feed = prompt;
  let pos = 0;
  for (let s = 0; s <= steps; s++) {
    const want = logitsOf(await cpu.step(feed, pos, 'logits'));
    const got = logitsOf(await split.step(feed, pos, 'logits'));
    expect(got, `step ${s}: split = unsplit`).toEqual(logitsOf(await whole.step(feed, pos, 'logits')));
    expectClose(got, want, tol, `step ${s} (pos ${pos}, ${feed.length} tokens)`);
    pos += feed.length;
    feed = [argmax(want)];
  }
  const got = await split.logitsAll(evalTokens);
  expect(got.logits, 'logitsAll: split = unsplit').toEqual((await whole.logitsAll(evalTokens)).logits);
  expectClose(got.logits, (await cpu.logitsAll(evalTokens)).logits, tol, 'logitsAll');

  const plan = planFor(model, cap);
  const c = model.config;
  const linearExtra = plan.splits.filter((s) => s.name !== 'tok_emb').reduce((n, s) => n + s.parts - 1, 0);
  const clsExtra = c.sharedClassifier ? partsOf(plan, 'tok_emb') - 1 : 0;
  for (let s = 0; s < 4; s++) {
    const d = split.counters.dispatches;
    const want = argmax(logitsOf(await cpu.step(feed, pos, 'logits')));
    expect(await split.step(feed, pos, 'argmax')).toEqual({ kind: 'argmax', token: want });
    expect(split.counters.dispatches - d, 'dispatches per decode token').toBe(
      6 * c.nLayers + 3 + linearExtra + clsExtra,
    );
    pos += 1;
    feed = [want];
  }
}

describe('random model, cap 8000 bytes', () => {
  const CAP = 8000; // 41 rows of dim 48: tok_emb 97 → 3 parts, wqkv 80 → 2, w13 200 → 5, w2 (400 B rows) → 3, wo → 2
  it('the plan splits the embedding, classifier and linears into 2–5 parts', () => {
    const model = randomModel({ ...BASE, sharedClassifier: false });
    const plan = planFor(model, CAP);
    expect(plan.verdict).toBe('fits-split');
    const parts = Object.fromEntries(plan.splits.map((s) => [s.name, [s.parts, s.rowsPerPart]]));
    expect(parts).toMatchObject({
      tok_emb: [3, 41],
      wcls: [3, 41],
      'l0.wqkv': [2, 41],
      'l0.wo': [2, 41],
      'l0.w13': [5, 41],
      'l0.w2': [3, 20],
    });
  });

  it.each([
    ['tied', true],
    ['untied', false],
  ] as const)(
    '%s classifier: split = unsplit = CPU (decode, prefill, logitsAll, argmax)',
    async (_n, sharedClassifier) => {
      const model = randomModel({ ...BASE, sharedClassifier });
      await check(
        model,
        CAP,
        prompt9,
        4,
        Array.from({ length: 21 }, (_, i) => (i * 13 + 1) % 97),
      );
    },
  );

  it('with Qwen2 biases and q8 g16 (asym, f16 scales) linears split on 4-row boundaries', async () => {
    const model = withAttentionBias(randomModel({ ...BASE, seed: 32, sharedClassifier: false }), 3);
    const q = { format: 'q8', group: 16, sym: false, scaleType: 'f16' } as const;
    for (const l of model.weights.layers) for (const n of LINEAR_NAMES) l[n] = quantizeTensor(l[n] as F32Tensor, q);
    model.weights.wcls = quantizeTensor(model.weights.wcls as F32Tensor, q);
    const cap = 5000; // 3 groups per row of 48 (7 of 100): parts are whole zero-point words = 4 rows
    const plan = planFor(model, cap);
    const parts = Object.fromEntries(plan.splits.map((s) => [s.name, [s.parts, s.rowsPerPart]]));
    expect(parts).toMatchObject({ tok_emb: [4, 26], wcls: [2, 84], 'l0.w13': [3, 84], 'l0.w2': [2, 40] });
    expect(plan.splits.every((s) => s.name === 'tok_emb' || s.rowsPerPart % 4 === 0)).toBe(true);
    await check(
      model,
      cap,
      prompt9,
      3,
      Array.from({ length: 13 }, (_, i) => (i * 7 + 2) % 97),
    );
  });
});

describe('stories260K with a 70000-byte cap', () => {
  it('embedding / classifier and w13 in 2 parts: split = unsplit = CPU', async () => {
    const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
    const model = parseLlama2c(read('public/models/stories260K.bin'));
    const prompt = Tokenizer.fromLlama2c(read('public/models/tok512.bin'), model.config.vocabSize).encode(
      'Once upon a time, a little girl',
      { bos: true, eos: false },
    );
    const plan = planFor(model, 70_000);
    expect(plan.splits.map((s) => [s.name, s.parts, s.rowsPerPart])).toEqual([
      ['tok_emb', 2, 273],
      ...Array.from({ length: 5 }, (_, l) => [`l${l}.w13`, 2, 273]),
    ]);
    // stories260K logits reach |10| (test/gpu/runner-quant.test.ts's tolerance)
    await check(model, 70_000, prompt, 6, prompt.slice(0, 12), { atol: 5e-5, rtol: 1e-4 });
  });
});

describe("'too-large' before anything is allocated", () => {
  const code = (e: unknown) => (isNibbleError(e) ? e.code : String(e));

  it('a single row larger than the cap', async () => {
    const model = randomModel(BASE);
    const err = await createGpuRunner(ctx, model, { maxBindingBytes: 150 }).catch((e: unknown) => e);
    expect(code(err)).toBe('too-large');
    expect((err as Error).message).toMatch(/tok_emb: one row is/);
    expect((err as Error).message).toContain(planFor(model, 150).reasons[0]);
  });

  it('a per-layer KV cache larger than the cap names the longest context that fits', async () => {
    const model = randomModel(BASE); // KV per layer: 64 positions · 16 · 4 = 4096 bytes
    const err = await createGpuRunner(ctx, model, { maxBindingBytes: 4000 }).catch((e: unknown) => e);
    expect(code(err)).toBe('too-large');
    expect((err as Error).message).toMatch(/KV cache of one layer at 64 positions .* choose a context of at most 62/);
    expect(planFor(model, 4000).maxContextForBinding).toBe(62);
  });

  it('maxBindingBytes must be a sane integer', async () => {
    const err = await createGpuRunner(ctx, randomModel(BASE), { maxBindingBytes: 0.5 }).catch((e: unknown) => e);
    expect(code(err)).toBe('bad-argument');
  });
});
