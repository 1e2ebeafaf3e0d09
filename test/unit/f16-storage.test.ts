// 16-bit weights (F16Tensor): .nibble files store them bit-exactly; the model-tensor plan counts
// 2 bytes per weight; merge / slice keep every code; the CPU forward of an f16 model equals the
// f32 forward of its widened values.
import { describe, expect, it } from 'vitest';
import { f16Codes, f16TensorFromF32, widenF16 } from '../../src/core/formats/f16-tensor.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { f32Values } from '../../src/core/model/linear.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { describeModelTensors, mergeRun, sliceRows } from '../../src/core/plan/model-tensors.ts';
import type { F16Tensor, Tensor } from '../../src/core/tensor.ts';
import { stories260K } from './helpers.ts';

const base = parseLlama2c(stories260K());

/** Every matrix of `m` as f16 (norms stay f32), tied classifier kept tied. */
function toF16(m: LlamaModel, map: (t: Tensor) => Tensor): LlamaModel {
  const w = m.weights;
  const tokEmb = map(w.tokEmb);
  return {
    config: m.config,
    weights: {
      ...w,
      tokEmb,
      wcls: w.wcls === w.tokEmb ? tokEmb : map(w.wcls),
      layers: w.layers.map((l) => ({ ...l, ...Object.fromEntries(LINEAR_NAMES.map((n) => [n, map(l[n])])) })),
    },
  };
}
const half = toF16(base, (t) => f16TensorFromF32([...t.shape], f32Values(t)));
const widened = toF16(half, (t) => widenF16(t as F16Tensor));
const logits = (m: LlamaModel) => new CpuForward(m).forward([1, 403, 407, 261], 0);

describe('f16 storage', () => {
  it('the CPU forward of an f16 model is the f32 forward of its widened values', () => {
    expect(half.weights.layers[0].w1.format).toBe('f16');
    expect(logits(half)).toEqual(logits(widened));
  });

  it('.nibble files store f16 tensors bit-exactly', () => {
    const back = readNibbleFile(writeNibbleFile(half)).model;
    expect(back.weights.tokEmb.format).toBe('f16');
    expect(back.weights.wcls).toBe(back.weights.tokEmb);
    for (let l = 0; l < half.weights.layers.length; l++)
      for (const n of LINEAR_NAMES) {
        const a = half.weights.layers[l][n] as F16Tensor;
        const b = back.weights.layers[l][n] as F16Tensor;
        expect(b.format).toBe('f16');
        expect(b.data).toEqual(a.data);
      }
    expect(logits(back)).toEqual(logits(half));
  });

  it('the plan counts 2 bytes per weight; merge and slice keep every code (odd sizes)', () => {
    const plan = describeModelTensors(half);
    const w13 = plan.find((e) => e.name === 'l0.w13')!;
    expect(w13.format).toBe('f16');
    expect(w13.bytes).toBe(2 * 2 * half.config.hiddenDim * half.config.dim);
    expect(plan.find((e) => e.name === 'tok_emb')!.bytes).toBe(2 * half.config.vocabSize * half.config.dim);
    expect(plan.some((e) => e.name === 'wcls')).toBe(false); // shares the embedding
    const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * 3);
    const parts = [f16TensorFromF32([3, 7], rand(21)), f16TensorFromF32([5, 7], rand(35).reverse())];
    const merged = mergeRun(parts) as F16Tensor;
    expect([...f16Codes(merged)]).toEqual([...f16Codes(parts[0]), ...f16Codes(parts[1])]);
    const s = sliceRows(merged, 2, 5) as F16Tensor;
    expect([...f16Codes(s)]).toEqual([...f16Codes(merged)].slice(14, 49));
  });
});
