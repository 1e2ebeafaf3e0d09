// The GGUF writer: exports of stories260K re-read with our reader — gguf-f32 gives identical
// logits; gguf-q8_0 / gguf-q4_0 blocks are byte-exact against the formats-doc encoders on the
// model's own weights; the file follows llama.cpp's layout rules (metadata keys and types, tensor
// names, offsets = running padded sum, aligned data start and end); a model in the HF rotate-half
// layout is permuted back (convert_hf_to_gguf.py) to the very same bytes; uniform q8/q4 symmetric
// group-32 variants are written code for code.
import { describe, expect, it } from 'vitest';
import { f16Array } from '../../src/core/formats/export/f16.ts';
import { halfFromInterleaved, permuteRows } from '../../src/core/formats/export/rope-permute.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { encodeQ4_0, encodeQ8_0 } from '../../src/core/formats/gguf/blocks.ts';
import { LAYER_TENSORS, loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { parseGguf } from '../../src/core/formats/gguf/read.ts';
import { GgmlType, GgufValueType as T, type GgufFile } from '../../src/core/formats/gguf/types.ts';
import { vocabFromLlama2c } from '../../src/core/formats/gguf/vocab.ts';
import { writeGgufModel } from '../../src/core/formats/gguf/write.ts';
import { f32Values } from '../../src/core/model/linear.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import type { LayerWeights, LlamaModel } from '../../src/core/model/model.ts';
import { dequantizeTensor, quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { f32Tensor, type F32Tensor } from '../../src/core/tensor.ts';
import { stories260K, tok512 } from './helpers.ts';

const model = parseLlama2c(stories260K());
const vocab = vocabFromLlama2c(tok512(), 512);
const TOKENS = [1, 403, 407, 261, 378, 88, 300, 12];
const logits = (m: LlamaModel) => new CpuForward(m).forwardAll(TOKENS, 0);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const tensorBytes = (f: GgufFile, name: string) => {
  const t = f.tensors.find((x) => x.name === name)!;
  return f.bytes.subarray(f.dataStart + t.offset, f.dataStart + t.offset + t.bytes);
};
const bytesOf = (x: Float32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
const f32Of = (t: LayerWeights[keyof LayerWeights]) => (t as F32Tensor).data;

describe('gguf-f32 export', () => {
  const bytes = writeGgufModel(model, vocab, 'gguf-f32', { name: 'stories260K' });
  const f = parseGguf(bytes);

  it('re-reads to the same config, vocabulary and logits', () => {
    const g = loadGguf(bytes);
    expect(g.model.config).toEqual({ ...model.config, normEps: Math.fround(1e-5) });
    expect(g.vocab.pieces).toEqual(vocab.pieces);
    expect(maxDiff(logits(g.model), logits(model))).toBe(0);
  });

  it('has the metadata llama.cpp needs, with its value types', () => {
    const kv = (k: string) => f.kv.get(k);
    expect(kv('general.architecture')).toEqual({ type: T.STRING, value: 'llama' });
    expect(kv('general.name')?.value).toBe('stories260K');
    const ints: Record<string, number> = {
      'llama.context_length': 512,
      'llama.embedding_length': 64,
      'llama.block_count': 5,
      'llama.feed_forward_length': 172,
      'llama.rope.dimension_count': 8,
      'llama.attention.head_count': 8,
      'llama.attention.head_count_kv': 4,
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'general.alignment': 32,
    };
    for (const [k, v] of Object.entries(ints)) expect(kv(k), k).toEqual({ type: T.U32, value: v });
    expect(kv('llama.attention.layer_norm_rms_epsilon')).toEqual({ type: T.F32, value: Math.fround(1e-5) });
    expect(kv('tokenizer.ggml.model')?.value).toBe('llama');
    const arr = (k: string) => kv(k)!.value as { elemType: number; values: ArrayLike<unknown> };
    expect(arr('tokenizer.ggml.tokens').elemType).toBe(T.STRING);
    expect(Array.from(arr('tokenizer.ggml.tokens').values).slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(arr('tokenizer.ggml.tokens').values[265]).toBe('▁the');
    expect(Array.from(arr('tokenizer.ggml.token_type').values).slice(0, 4)).toEqual([2, 3, 3, 6]);
    expect(arr('tokenizer.ggml.scores').elemType).toBe(T.F32);
  });

  it("follows llama.cpp's layout: tensor names, running padded offsets, aligned start and end", () => {
    const names = [
      'token_embd.weight',
      'output_norm.weight',
      ...Array.from({ length: 5 }, (_, l) => Object.values(LAYER_TENSORS).map((n) => `blk.${l}.${n}.weight`)).flat(),
    ];
    expect(f.tensors.map((t) => t.name)).toEqual(names); // tied classifier: no output.weight
    let expected = 0;
    for (const t of f.tensors) {
      expect(t.offset).toBe(expected);
      expected += Math.ceil(t.bytes / 32) * 32;
    }
    expect(f.dataStart % 32).toBe(0);
    expect(bytes.length).toBe(f.dataStart + expected);
    expect(f.tensors.find((t) => t.name === 'blk.0.attn_k.weight')!.ne).toEqual([64, 32]);
  });
});

describe('gguf-q8_0 / gguf-q4_0 blocks', () => {
  // An untied copy, so output.weight is written too.
  const untied: LlamaModel = {
    config: { ...model.config, sharedClassifier: false },
    weights: {
      ...model.weights,
      wcls: f32Tensor(
        [512, 64],
        (model.weights.wcls as F32Tensor).data.map((v) => v * 0.5),
      ),
    },
  };

  it.each([
    ['gguf-q8_0', GgmlType.Q8_0, encodeQ8_0],
    ['gguf-q4_0', GgmlType.Q4_0, encodeQ4_0],
  ] as const)('%s: byte-exact encoder output per tensor', (format, type, encode) => {
    const f = parseGguf(writeGgufModel(untied, vocab, format));
    const typeOf = (n: string) => f.tensors.find((t) => t.name === n)!.type;
    expect(tensorBytes(f, 'token_embd.weight')).toEqual(encode((model.weights.tokEmb as F32Tensor).data));
    expect(typeOf('output.weight')).toBe(GgmlType.Q8_0); // classifier at 8 bits in both
    expect(tensorBytes(f, 'output.weight')).toEqual(encodeQ8_0((untied.weights.wcls as F32Tensor).data));
    expect(typeOf('output_norm.weight')).toBe(GgmlType.F32);
    for (let l = 0; l < 5; l++) {
      const lw = model.weights.layers[l];
      for (const k of ['wq', 'wk', 'wv', 'wo', 'w1', 'w3'] as const) {
        expect(typeOf(`blk.${l}.${LAYER_TENSORS[k]}.weight`)).toBe(type);
        expect(
          Buffer.from(tensorBytes(f, `blk.${l}.${LAYER_TENSORS[k]}.weight`)).equals(Buffer.from(encode(f32Of(lw[k])))),
        ).toBe(true);
      }
      // ffn_down has rows of 172 (not whole blocks of 32): F16, as llama.cpp falls back
      expect(typeOf(`blk.${l}.ffn_down.weight`)).toBe(GgmlType.F16);
      expect(
        Buffer.from(tensorBytes(f, `blk.${l}.ffn_down.weight`)).equals(Buffer.from(f16Array(f32Of(lw.w2)).buffer)),
      ).toBe(true);
      expect(tensorBytes(f, `blk.${l}.attn_norm.weight`)).toEqual(bytesOf(f32Of(lw.rmsAtt)));
    }
  });

  it('quantized exports still run (top-1 agreement with fp32 on a short text)', () => {
    const ref = logits(model);
    const argmax = (x: Float32Array, r: number) =>
      x.subarray(r * 512, r * 512 + 512).reduce((b, v, i, a) => (v > a[b] ? i : b), 0);
    for (const format of ['gguf-q8_0', 'gguf-q4_0'] as const) {
      const q = logits(loadGguf(writeGgufModel(model, vocab, format)).model);
      const agree = TOKENS.filter((_, r) => argmax(q, r) === argmax(ref, r)).length;
      expect(agree, format).toBeGreaterThanOrEqual(format === 'gguf-q8_0' ? 8 : 5);
    }
  });

  it('a q8/q4 symmetric group-32 f16-scale variant is written code for code', () => {
    for (const [fmt, format] of [
      ['q8', 'gguf-q8_0'],
      ['q4', 'gguf-q4_0'],
    ] as const) {
      const layers = model.weights.layers.map((lw) => ({
        ...lw,
        wq: quantizeTensor(lw.wq as F32Tensor, { format: fmt, group: 32, sym: true, scaleType: 'f16' }),
      }));
      const variant: LlamaModel = { ...model, weights: { ...model.weights, layers } };
      const g = loadGguf(writeGgufModel(variant, vocab, format));
      layers.forEach((lw, l) =>
        expect(f32Of(g.model.weights.layers[l].wq)).toEqual(
          dequantizeTensor(lw.wq as Parameters<typeof dequantizeTensor>[0]).data,
        ),
      );
    }
  });
});

describe("loading with weights: 'native'", () => {
  it('Q8_0/Q4_0 linears become q8/q4 tensors with the very values (and logits) of the f32 load', () => {
    for (const [format, fmt] of [
      ['gguf-q8_0', 'q8'],
      ['gguf-q4_0', 'q4'],
    ] as const) {
      const bytes = writeGgufModel(model, vocab, format);
      const a = loadGguf(bytes).model;
      const b = loadGguf(bytes, { weights: 'native' }).model;
      const lw = b.weights.layers[0];
      expect([lw.wq.format, lw.w1.format, lw.w2.format, lw.rmsAtt.format]).toEqual([fmt, fmt, 'f16', 'f32']); // ffn_down is F16 in the file and stays f16
      b.weights.layers.forEach((l, i) => {
        for (const k of ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'] as const)
          expect(f32Values(l[k])).toEqual(f32Of(a.weights.layers[i][k]));
      });
      expect(logits(b)).toEqual(logits(a));
    }
  });
});

describe('RoPE layouts', () => {
  it('an HF rotate-half model exports to the same bytes as its interleaved original', () => {
    const c = model.config;
    const perm = (t: LayerWeights['wq'], heads: number) =>
      f32Tensor([...t.shape], permuteRows(f32Values(t), t.shape[0], halfFromInterleaved(t.shape[0], heads)));
    const half: LlamaModel = {
      config: { ...c, ropeStyle: 'half' },
      weights: {
        ...model.weights,
        layers: model.weights.layers.map((lw) => ({ ...lw, wq: perm(lw.wq, c.nHeads), wk: perm(lw.wk, c.nKvHeads) })),
      },
    };
    // The permutation is HF's: with rotate-half RoPE the permuted model computes the same logits.
    expect(maxDiff(logits(half), logits(model))).toBeLessThan(1e-5);
    for (const format of ['gguf-f32', 'gguf-q4_0'] as const) {
      expect(
        Buffer.from(writeGgufModel(half, vocab, format)).equals(Buffer.from(writeGgufModel(model, vocab, format))),
      ).toBe(true);
    }
  });
});

describe('writer refusals', () => {
  it('rejects a vocabulary of the wrong size and attention biases', () => {
    expect(() =>
      writeGgufModel(model, { pieces: vocab.pieces.slice(0, 10), scores: vocab.scores.slice(0, 10) }, 'gguf-f32'),
    ).toThrow(/tokenizer has 10 tokens, the model 512/);
    const b = f32Tensor([64], new Float32Array(64));
    const biased: LlamaModel = {
      ...model,
      weights: {
        ...model.weights,
        attnBias: model.weights.layers.map(() => ({
          bq: b,
          bk: f32Tensor([32], new Float32Array(32)),
          bv: f32Tensor([32], new Float32Array(32)),
        })),
      },
    };
    expect(() => writeGgufModel(biased, vocab, 'gguf-f32')).toThrow(/attention biases/);
  });
});
