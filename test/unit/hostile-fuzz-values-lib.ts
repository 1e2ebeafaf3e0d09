// Value fuzzing (issue 10): a small model with one poisoned value — NaN, ±Inf, a denormal, a
// huge finite weight, −0 — in a random tensor (a weight, or the scale of a quantized one), saved
// as llama2.c, GGUF f32/Q8_0 or .nibble (f32, q4 with f16 scales), then pushed through the whole
// path: load → generate with sampling → eval against the clean model → export (.nibble and GGUF)
// → reload. Every step must end in success or a NibbleError; a model that loads must generate
// ids inside the vocabulary, report a finite perplexity, and load back from both exports.
// scripts/fuzz-values.mjs runs N cases; npm test runs a bounded count (hostile-fuzz-values.test.ts).
import { isNibbleError } from '../../src/core/errors.ts';
import { parseGguf } from '../../src/core/formats/gguf/read.ts';
import { llama2cTokenizerBytes } from '../../src/core/formats/gguf/vocab.ts';
import { writeGgufModel } from '../../src/core/formats/gguf/write.ts';
import { bytesReader, openCheckpoint } from '../../src/core/formats/model-open.ts';
import { writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { generate } from '../../src/engine/generate.ts';
import { llama2cBytes, tinyModel, tinyVocab } from './hostile-fixtures.ts';

export const FORMATS = ['llama2c', 'gguf-f32', 'gguf-q8_0', 'nibble-f32', 'nibble-q4-f16'] as const;
export const POISONS = [NaN, Infinity, -Infinity, 1e-40, 3e38, -0, 1e-45] as const;
const V = 300;
const vocab = tinyVocab(V);
const tokBytes = llama2cTokenizerBytes(vocab);
const clean = tinyModel({ vocabSize: V, nLayers: 2 });

export interface ValueCase {
  format: (typeof FORMATS)[number];
  poison: number;
  tensor: number; // index into the poisonable tensors
  index: number; // raw index, reduced modulo the tensor's length
}

export function randomCase(rnd: () => number): ValueCase {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)];
  return {
    format: pick(FORMATS),
    poison: pick(POISONS),
    tensor: Math.floor(rnd() * 1000),
    index: Math.floor(rnd() * 1e6),
  };
}

const KEYS = ['rmsAtt', 'wq', 'wk', 'wv', 'wo', 'rmsFfn', 'w1', 'w2', 'w3'] as const;

function copyModel(m: LlamaModel): LlamaModel {
  const f = (t: unknown) => ({ ...(t as F32Tensor), data: Float32Array.from((t as F32Tensor).data) });
  const tokEmb = f(m.weights.tokEmb);
  return {
    config: { ...m.config },
    weights: {
      tokEmb,
      wcls: tokEmb,
      rmsFinal: f(m.weights.rmsFinal),
      layers: m.weights.layers.map((l) => Object.fromEntries(KEYS.map((k) => [k, f(l[k])])) as never),
    },
  };
}

/** The case's file bytes: the model with one value poisoned, in the case's format. */
export function caseFile(c: ValueCase): Uint8Array {
  const m = copyModel(clean);
  const slots: [F32Tensor, (t: never) => void][] = [
    [m.weights.tokEmb as F32Tensor, () => undefined],
    [m.weights.rmsFinal as F32Tensor, () => undefined],
    ...m.weights.layers.flatMap((l) =>
      KEYS.map((k) => [l[k] as F32Tensor, (t: never) => (l[k] = t)] as [F32Tensor, (t: never) => void]),
    ),
  ];
  const [t, replace] = slots[c.tensor % slots.length];
  if (c.format === 'nibble-q4-f16' && t.shape.length === 2 && t !== m.weights.tokEmb) {
    const q = quantizeTensor(t, { format: 'q4', group: 32, sym: true, scaleType: 'f16' });
    const scales = q.buffers.scales as Uint32Array;
    const i = c.index % (scales.length * 2);
    const half = Number.isNaN(c.poison)
      ? 0x7e00
      : c.poison === Infinity || c.poison === 3e38
        ? 0x7c00
        : c.poison === -Infinity
          ? 0xfc00
          : 0x0001;
    scales[i >> 1] = (scales[i >> 1] & ~(0xffff << (16 * (i & 1)))) | (half << (16 * (i & 1)));
    replace(q as never);
    return writeNibbleFile(m, { tokenizer: tokBytes });
  }
  t.data[c.index % t.data.length] = c.poison;
  switch (c.format) {
    case 'llama2c':
      return llama2cBytes(m);
    case 'gguf-f32':
      return writeGgufModel(m, vocab, 'gguf-f32');
    case 'gguf-q8_0': {
      // Q8_0 of the clean values, then one fp16 block scale overwritten with the poison's bits.
      const bytes = writeGgufModel(copyModel(clean), vocab, 'gguf-q8_0');
      const f = parseGguf(bytes);
      const q8 = f.tensors.filter((x) => x.type === 8);
      const info = q8[c.tensor % q8.length];
      const block = c.index % (info.bytes / 34);
      const half = Number.isNaN(c.poison)
        ? 0x7e00
        : c.poison > 1e30 || c.poison === Infinity
          ? 0x7c00
          : c.poison === -Infinity
            ? 0xfc00
            : 0x0001;
      const at = f.dataStart + info.offset + block * 34;
      bytes[at] = half & 0xff;
      bytes[at + 1] = half >> 8;
      return bytes;
    }
    default:
      return writeNibbleFile(m, { tokenizer: tokBytes });
  }
}

export type Outcome = 'refused-at-load' | 'refused-at-generate' | 'refused-at-eval' | 'ran';

/** Runs one case; returns its outcome, or throws an Error describing a broken invariant. */
export async function runValueCase(c: ValueCase): Promise<Outcome> {
  const typed = (stage: string, e: unknown): void => {
    if (!isNibbleError(e)) throw new Error(`${stage}: untyped ${(e as Error)?.stack ?? String(e)}`);
  };
  const bytes = caseFile(c);
  let model: LlamaModel;
  let tokenizer;
  try {
    const o = await openCheckpoint(bytesReader(bytes), { tokenizer: { kind: 'llama2c', bytes: tokBytes } });
    model = o.model;
    tokenizer = o.tokenizer;
  } catch (e) {
    typed('load', e);
    return 'refused-at-load';
  }
  try {
    const r = await generate(createCpuRunner(model), tokenizer, 't280', {
      maxTokens: 4,
      temperature: 0.8,
      topP: 0.9,
      seed: c.index,
    });
    if (r.tokens.some((id) => !Number.isInteger(id) || id < 0 || id >= V))
      throw new Error(`generate returned ids ${r.tokens}`);
  } catch (e) {
    typed('generate', e);
    return 'refused-at-generate';
  }
  try {
    const rep = await evaluate(createCpuRunner(model), [[1, 280, 281, 282, 283]], createCpuRunner(clean));
    if (!Number.isFinite(rep.ppl) || !Number.isFinite(rep.klMean!) || !Number.isFinite(rep.top1Agreement!))
      throw new Error(`eval reported ppl ${rep.ppl}, KL ${rep.klMean}, top-1 ${rep.top1Agreement}`);
  } catch (e) {
    typed('eval', e);
    return 'refused-at-eval';
  }
  // What loads can be saved and loads back, in both formats.
  for (const out of [writeNibbleFile(model, { tokenizer: tokBytes }), writeGgufModel(model, vocab, 'gguf-f32')]) {
    const back = await openCheckpoint(bytesReader(out), { tokenizer: { kind: 'llama2c', bytes: tokBytes } });
    if (back.model.config.vocabSize !== V) throw new Error('reloaded export has another vocabulary');
  }
  return 'ran';
}
