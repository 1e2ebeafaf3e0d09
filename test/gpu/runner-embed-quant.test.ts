// The GPU runner with quantized embedding / classifier tables (quantizeEmbeddings: q8 per row,
// q4 g32; tied → one table read by embed_qn and the q8 / q4 matmuls from one buffer; untied →
// two) vs the CPU runner on the same model, and the GPU runner on an f16 model (every matrix
// as fp16 pairs: embed_f16, the f16 GEMV / GEMM) vs the CPU runner: prefill + greedy decode,
// logits within LOGIT_TOL, argmax equal; logitsAll over every position.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f16TensorFromF32 } from '../../src/core/formats/f16-tensor.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { argmax } from '../../src/core/model/ops.ts';
import { DEFAULT_SPEC, type QuantSpec } from '../../src/core/quant/quant-spec.ts';
import type { F32Tensor, Tensor } from '../../src/core/tensor.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { createGpuRunner } from '../../src/engine/gpu-runner.ts';
import { quantizeEmbeddings } from '../../src/engine/quant/embeddings.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import type { GpuContext } from '../../src/gpu/device.ts';
import { LOGIT_TOL, SMALL_SPEC, logitsOf, randomModel } from './random-model.ts';
import { expectClose, gpuContext } from './setup-device.ts';

let ctx: GpuContext;
const runners: ModelRunner[] = [];
beforeAll(async () => {
  ctx = await gpuContext();
});
afterAll(() => runners.forEach((r) => r.dispose()));

const PROMPT = [1, 5, 17, 42, 8, 96, 3, 61, 20];

/** Prefill PROMPT + 6 greedy decode steps, then logitsAll over 12 tokens: GPU vs CPU. */
async function compare(m: LlamaModel, what: string): Promise<ModelRunner> {
  const gpu = await createGpuRunner(ctx, m);
  runners.push(gpu);
  const cpu = createCpuRunner(m);
  let feed = PROMPT;
  let pos = 0;
  for (let s = 0; s <= 6; s++) {
    const want = logitsOf(await cpu.step(feed, pos, 'logits'));
    const got = logitsOf(await gpu.step(feed, pos, 'logits'));
    expect(argmax(got), `${what} step ${s}: argmax`).toBe(argmax(want));
    expectClose(got, want, LOGIT_TOL, `${what} step ${s} (pos ${pos})`);
    pos += feed.length;
    feed = [argmax(want)];
  }
  const tokens = [...PROMPT, 2, 77, 9];
  expectClose(
    (await gpu.logitsAll(tokens)).logits,
    (await cpu.logitsAll(tokens)).logits,
    LOGIT_TOL,
    `${what} logitsAll`,
  );
  return gpu;
}

const rtn4: QuantSpec = { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 };

const CASES: [string, boolean, Partial<QuantSpec>][] = [
  ['tied q8', true, { embed: 'q8' }],
  ['tied q4', true, { embed: 'q4' }],
  ['untied embed q8, classifier q4', false, { embed: 'q8', classifier: 'q4' }],
  ['untied embed q4, classifier q8', false, { embed: 'q4', classifier: 'q8' }],
];

describe.each(CASES)('quantized tables, %s', (name, shared, tables) => {
  it('GPU runner = CPU runner; the tables stay packed on the GPU', async () => {
    const m = randomModel({ ...SMALL_SPEC, sharedClassifier: shared, seed: shared ? 31 : 32 });
    await quantizeEmbeddings(m, { ...rtn4, ...tables });
    expect(m.weights.wcls === m.weights.tokEmb).toBe(shared);
    const gpu = await compare(m, name);
    const formats = Object.keys(gpu.memory!().weightBytesByFormat).sort();
    expect(formats).toEqual([...new Set(['f32', tables.embed!, ...(shared ? [] : [tables.classifier!])])].sort());
  });
});

/** Every matrix of m as fp16 pairs (a tied table stays one object); norms f32. */
function asF16(m: LlamaModel): LlamaModel {
  const h = (t: Tensor): Tensor => f16TensorFromF32([...t.shape], (t as F32Tensor).data);
  const tokEmb = h(m.weights.tokEmb);
  const layers = m.weights.layers.map((l) => ({
    ...l,
    wq: h(l.wq),
    wk: h(l.wk),
    wv: h(l.wv),
    wo: h(l.wo),
    w1: h(l.w1),
    w2: h(l.w2),
    w3: h(l.w3),
  }));
  const wcls = m.weights.wcls === m.weights.tokEmb ? tokEmb : h(m.weights.wcls);
  return { config: m.config, weights: { ...m.weights, tokEmb, wcls, layers } };
}

describe.each([true, false])('f16 model (shared classifier: %s)', (shared) => {
  it('GPU runner = CPU runner; weights stay f16 on the GPU', async () => {
    const m = asF16(randomModel({ ...SMALL_SPEC, sharedClassifier: shared, seed: 40 }));
    const gpu = await compare(m, `f16 ${shared ? 'tied' : 'untied'}`);
    expect(Object.keys(gpu.memory!().weightBytesByFormat).sort()).toEqual(['f16', 'f32']);
  });
});
