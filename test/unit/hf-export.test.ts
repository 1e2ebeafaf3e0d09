// Fixtures built in code (issue 5): stories260K.bin + tok512.bin converted to an HF folder
// (core/export/hf-folder.ts) and to GGUF F32 (core/gguf/write.ts); the three loads (llama2.c,
// HF folder through the real loader, GGUF) give the same logits within 1e-5 and the golden
// greedy 200 tokens. The converted tokenizer.json encodes exactly as the llama2.c tokenizer and
// matches the transformers-made fixture (test/fixtures/stories260K-hf) in vocabulary, merges,
// added tokens, post-processor and decoder; the tensors match the fixture's value for value.
// Also: F16/BF16 exports, a Qwen2-style biased model, a q4 variant (fake-quant), an HF-tokenizer
// model (files copied, chat template kept) and the refusals. gguf-write.test.ts proves the GGUF
// layout and metadata; here only the load → logits → golden path.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { f16Array } from '../../src/core/formats/export/f16.ts';
import { bf16Array, exportHfFolder, type HfExportDtype } from '../../src/core/formats/export/hf-folder.ts';
import { halfFromInterleaved, permuteRows } from '../../src/core/formats/export/rope-permute.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { llama2cTokenizerBytes, vocabFromLlama2c } from '../../src/core/formats/gguf/vocab.ts';
import { writeGgufModel } from '../../src/core/formats/gguf/write.ts';
import { bf16ToF32, f16ToF32, f32ToBf16Bits } from '../../src/core/formats/hf/half.ts';
import { memoryFolder } from '../../src/core/formats/hf/load.ts';
import { HfTokenizer } from '../../src/core/tokenizers/hf-tokenizer.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { bytesReader, openCheckpoint, openHfFolder } from '../../src/core/formats/model-open.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { dequantizeTensor, quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { f32Values } from '../../src/core/model/linear.ts';
import { parseSafetensors } from '../../src/core/formats/safetensors.ts';
import { f32Tensor, type F32Tensor, type Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import type { TextTokenizer } from '../../src/core/tokenizers/text-tokenizer.ts';
import type { TokenizerFiles } from '../../src/core/tokenizers/tokenizer-files.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { exportModelFiles } from '../../src/engine/export-model.ts';
import { generate } from '../../src/engine/generate.ts';
import { hfFixtureFiles, parseJson, tensorsOf } from './hf-fixture.ts';
import { seededRandom, stories260K, tok512 } from './helpers.ts';

const model = parseLlama2c(stories260K());
const TOK: TokenizerFiles = { kind: 'llama2c', bytes: tok512() };
const llamaTok = Tokenizer.fromLlama2c(tok512(), 512);
const GOLDEN = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8').replace(/\n$/, '');
const IDS = [1, 403, 407, 261, 378, 29, 300, 340, 261, 385, 402, 441, 368, 46, 350, 293, 266, 301, 442];

const record = (files: { name: string; bytes: Uint8Array }[]) =>
  Object.fromEntries(files.map((f) => [f.name, f.bytes]));
const exported = (m: LlamaModel, tok: TokenizerFiles = TOK, dtype?: HfExportDtype) =>
  record(exportHfFolder(m, tok, { dtype, name: 'test' }));
const openFiles = (files: Record<string, Uint8Array>) => openHfFolder(memoryFolder(files));
const logits = (m: LlamaModel, ids: readonly number[] = IDS) => new CpuForward(m).forwardAll(ids, 0); // (M, vocab)
const maxDiff = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
};
const f32 = (t: Tensor) => f32Values(t); // f16 / bf16 exports load as f16 matrices
const greedy = (m: LlamaModel, tok: TextTokenizer) =>
  generate(createCpuRunner(m), tok, '', { maxTokens: 200, temperature: 0, topP: 1, seed: 1 });
const FILES = exported(model);

describe('stories260K → HF folder, built in code', () => {
  it('writes config, generation config, safetensors and the tokenizer files', () => {
    expect(Object.keys(FILES)).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    expect(parseJson(FILES['config.json'])).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 64,
      intermediate_size: 172,
      num_hidden_layers: 5,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      head_dim: 8,
      vocab_size: 512,
      max_position_embeddings: 512,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      bos_token_id: 1,
      eos_token_id: 2,
      nibble_source: { name: 'test', fake_quant: false },
    });
    expect(parseJson(FILES['generation_config.json'])).toMatchObject({ bos_token_id: 1, eos_token_id: 2 });
  });

  it('the real HF loader gives the .bin logits at every position (within 1e-5)', async () => {
    const o = await openFiles(FILES);
    expect(o.format).toBe('hf');
    expect(o.architecture).toBe('llama');
    expect(o.model.config).toEqual({ ...model.config, ropeStyle: 'half' });
    expect(o.model.weights.wcls).toBe(o.model.weights.tokEmb);
    expect(maxDiff(f32(o.model.weights.layers[0].wq), f32(model.weights.layers[0].wq))).toBeGreaterThan(0.01); // rows really permuted
    expect(maxDiff(logits(o.model), logits(model))).toBeLessThanOrEqual(1e-5);
  });

  it('generates the golden 200 tokens greedily with the converted tokenizer.json', async () => {
    const o = await openFiles(FILES);
    expect(o.tokenizer).toBeInstanceOf(HfTokenizer);
    const res = await greedy(o.model, o.tokenizer);
    expect(res.tokens.length).toBe(200);
    expect(res.text).toBe(GOLDEN);
  });

  it('matches the transformers-made fixture: tensor names, shapes and values; vocabulary, merges, decoder', () => {
    const fixture = hfFixtureFiles();
    const byName = (b: Uint8Array) => new Map(tensorsOf(b).map((t) => [t.name, t]));
    const [ours, theirs] = [byName(FILES['model.safetensors']), byName(fixture['model.safetensors'])];
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [name, t] of ours) {
      expect(t.shape, name).toEqual(theirs.get(name)!.shape);
      expect(maxDiff(t.data, theirs.get(name)!.data), name).toBe(0); // the same f32 values, permutation included
    }
    const cfg = parseJson(FILES['config.json']);
    const fcfg = parseJson(fixture['config.json']);
    for (const k of [
      'architectures',
      'model_type',
      'hidden_size',
      'intermediate_size',
      'num_hidden_layers',
      'num_attention_heads',
      'num_key_value_heads',
      'head_dim',
      'vocab_size',
      'max_position_embeddings',
      'rms_norm_eps',
      'tie_word_embeddings',
      'bos_token_id',
      'eos_token_id',
      'hidden_act',
    ]) {
      expect(cfg[k], k).toEqual(fcfg[k]);
    }
    expect(cfg.rope_theta).toBe((fcfg.rope_parameters as { rope_theta: number }).rope_theta);

    const [tj, fj] = [parseJson(FILES['tokenizer.json']), parseJson(fixture['tokenizer.json'])];
    for (const k of ['added_tokens', 'post_processor', 'decoder', 'model']) expect(tj[k], k).toEqual(fj[k]); // model: vocab + all 165 merges in order
    // The one deliberate difference: Prepend + Replace normalizer instead of Metaspace, which skips
    // run.c's dummy prefix when the text already starts with a space.
    expect(fj.pre_tokenizer).toMatchObject({ type: 'Metaspace' });
    expect(tj.pre_tokenizer).toBeNull();
    const fixtureTok = HfTokenizer.fromFiles(fixture['tokenizer.json'], fixture['tokenizer_config.json']);
    const ourTok = HfTokenizer.fromFiles(FILES['tokenizer.json'], FILES['tokenizer_config.json']);
    expect(llamaTok.encode(' hi', { bos: false, eos: false })).toEqual([410, 270, 417]);
    expect(ourTok.encode(' hi', { bos: false, eos: false })).toEqual([410, 270, 417]);
    expect(fixtureTok.encode(' hi', { bos: false, eos: false })).toEqual([270, 417]);
  });
});

describe('the converted tokenizer.json against the llama2.c tokenizer', () => {
  const tok = HfTokenizer.fromFiles(FILES['tokenizer.json'], FILES['tokenizer_config.json']);
  const calib = readFileSync(new URL('../../public/data/tinystories-calib.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, 30);
  const strings = [
    '',
    'Once upon a time',
    'Hello, world! 123 + 456 = 579.',
    ' leading',
    '  two  spaces ',
    ' ',
    '   ',
    'trailing ',
    'héllo wörld',
    '日本語のテキスト',
    'emoji 🙂🚀 done',
    'mixed\ttabs\nand\nnew lines',
    'Ω≈ç√∫˜µ≤≥÷',
    'a\u200ab',
    ...calib,
  ];

  it.each(strings.map((s) => [s]))('encodes %j to the llama2.c ids and decodes it back', (s) => {
    for (const opts of [
      { bos: true, eos: false },
      { bos: false, eos: false },
      { bos: true, eos: true },
    ]) {
      expect(tok.encode(s, opts)).toEqual(llamaTok.encode(s, opts));
    }
    const ids = llamaTok.encode(s, { bos: true, eos: false });
    expect(tok.decode(ids)).toBe(s);
    expect(llamaTok.decode(ids)).toBe(s);
  });

  it('has the llama2.c BOS/EOS and vocabulary size', () => {
    expect([tok.bosId, tok.eosId, tok.vocabSize, tok.addsBos]).toEqual([1, 2, 512, true]);
  });
});

describe('the same model as GGUF F32, built in code', () => {
  it('loads to identical logits and the golden 200 tokens with its own vocabulary', async () => {
    const bytes = writeGgufModel(model, vocabFromLlama2c(tok512(), 512), 'gguf-f32', { name: 'stories260K' });
    const g = await openCheckpoint(bytesReader(bytes));
    expect(g.format).toBe('gguf');
    const ref = logits(model);
    expect(maxDiff(logits(g.model), ref)).toBe(0);
    expect(maxDiff(logits((await openFiles(FILES)).model), logits(g.model))).toBeLessThanOrEqual(1e-5); // all three loads agree
    const res = await greedy(g.model, g.tokenizer);
    expect(res.text).toBe(GOLDEN);
  });
});

describe('dtypes, biases, quantized variants, HF tokenizers', () => {
  it('bf16Array rounds exactly as f32ToBf16Bits (ties to even, NaN, ±∞, subnormals)', () => {
    const x = new Float32Array([
      0,
      -0,
      1,
      -1.5,
      1 + 2 ** -8,
      1 + 3 * 2 ** -8,
      3.4e38,
      -Infinity,
      Infinity,
      NaN,
      1e-40,
      -1e-45,
      Math.PI,
    ]);
    expect([...bf16Array(x)]).toEqual([...x].map((v) => f32ToBf16Bits(v)));
  });

  it.each([
    ['F16', 0.05],
    ['BF16', 0.5],
  ] as const)('%s: the stored values are the rounded f32 ones; logits close to f32', async (dtype, tol) => {
    const files = exported(model, TOK, dtype);
    expect(parseJson(files['config.json']).torch_dtype).toBe(dtype === 'F16' ? 'float16' : 'bfloat16');
    const st = parseSafetensors(files['model.safetensors']);
    expect([...new Set([...st.tensors.values()].map((e) => e.dtype))]).toEqual([dtype]);
    const o = await openFiles(files);
    const full = (await openFiles(FILES)).model;
    const round = (x: Float32Array) => {
      const codes = dtype === 'F16' ? f16Array(x) : bf16Array(x);
      const b = new Uint8Array(codes.buffer);
      return dtype === 'F16' ? f16ToF32(b, 0, x.length) : bf16ToF32(b, 0, x.length);
    };
    for (const k of ['wq', 'w2'] as const)
      expect(f32(o.model.weights.layers[3][k])).toEqual(round(f32(full.weights.layers[3][k])));
    const d = maxDiff(logits(o.model), logits(model));
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(tol);
  });

  it('a Qwen2-style model with q/k/v biases round-trips (biases permuted with their rows)', async () => {
    const rand = seededRandom(11);
    const vec = (n: number) =>
      f32Tensor(
        [n],
        Float32Array.from({ length: n }, () => rand() * 2 - 1),
      );
    const biased: LlamaModel = {
      ...model,
      weights: {
        ...model.weights,
        attnBias: model.weights.layers.map(() => ({ bq: vec(64), bk: vec(32), bv: vec(32) })),
      },
    };
    const files = exported(biased);
    expect(parseJson(files['config.json'])).toMatchObject({
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      use_sliding_window: false,
    });
    const o = await openFiles(files);
    expect(o.architecture).toBe('qwen2');
    expect(o.model.weights.attnBias).toHaveLength(5);
    expect(maxDiff(logits(o.model), logits(biased))).toBeLessThanOrEqual(1e-5);
    expect(maxDiff(logits(o.model), logits(model))).toBeGreaterThan(0.1); // the biases matter
    // Re-exporting the loaded (already rotate-half) model writes the very same tensors and tokenizer.
    const again = exported(o.model, o.tokenizerFiles);
    expect(Buffer.from(again['model.safetensors']).equals(Buffer.from(files['model.safetensors']))).toBe(true);
    expect(again['tokenizer.json']).toEqual(files['tokenizer.json']);
  });

  it('a q4 variant is written dequantized (fake-quant), equal to dequantizeTensor', async () => {
    const layers = model.weights.layers.map((lw) => ({
      ...lw,
      ...Object.fromEntries(
        LINEAR_NAMES.map((n) => [n, quantizeTensor(lw[n] as F32Tensor, { format: 'q4', group: 32 })]),
      ),
    }));
    const q4: LlamaModel = { ...model, weights: { ...model.weights, layers } };
    const files = exported(q4);
    expect(parseJson(files['config.json']).nibble_source).toMatchObject({
      fake_quant: true,
      quantized_formats: ['q4'],
    });
    const st = new Map(tensorsOf(files['model.safetensors']).map((t) => [t.name, t.data]));
    const deq = (l: number, n: (typeof LINEAR_NAMES)[number]) =>
      dequantizeTensor(layers[l][n] as UniformQuantTensor).data;
    for (let l = 0; l < 5; l++) {
      expect(st.get(`model.layers.${l}.self_attn.q_proj.weight`)).toEqual(
        permuteRows(deq(l, 'wq'), 64, halfFromInterleaved(64, 8)),
      );
      expect(st.get(`model.layers.${l}.self_attn.k_proj.weight`)).toEqual(
        permuteRows(deq(l, 'wk'), 32, halfFromInterleaved(32, 4)),
      );
      expect(st.get(`model.layers.${l}.mlp.down_proj.weight`)).toEqual(deq(l, 'w2'));
      expect(st.get(`model.layers.${l}.mlp.up_proj.weight`)).toEqual(deq(l, 'w3'));
    }
    const o = await openFiles(files);
    expect(maxDiff(logits(o.model), logits(q4))).toBeLessThanOrEqual(1e-4);
  });

  it('an HF-tokenizer model copies its tokenizer files and keeps the chat template', async () => {
    const fx = hfFixtureFiles();
    const chatTemplate = '{% for m in messages %}{{ m.content }}{% endfor %}';
    const tok: TokenizerFiles = {
      kind: 'hf',
      json: fx['tokenizer.json'],
      config: fx['tokenizer_config.json'],
      options: { bosId: 1, eosIds: [2], chatTemplate },
    };
    const src = await openFiles(fx);
    const files = exported(src.model, tok);
    expect(files['tokenizer.json']).toEqual(fx['tokenizer.json']);
    expect(files['tokenizer_config.json']).toEqual(fx['tokenizer_config.json']);
    expect(new TextDecoder().decode(files['chat_template.jinja'])).toBe(chatTemplate);
    const o = await openFiles(files);
    expect(o.chatTemplate).toBe(chatTemplate);
    expect(logits(o.model)).toEqual(logits(src.model)); // already rotate-half: written as is
  });

  it('the engine dispatch writes it as a folder format', () => {
    const r = exportModelFiles(
      { model, modelName: 'stories260K', label: 'fp32', tokenizerFiles: TOK },
      'hf-safetensors',
    );
    expect(r.folder).toBe('stories260K-hf');
    expect(r.files.map((f) => f.name)).toEqual(Object.keys(FILES));
    expect(parseJson(r.files[0].bytes).nibble_source).toMatchObject({ name: 'stories260K' });
  });

  it('refuses what would not load: wrong shapes, a tokenizer of another size, non-UTF-8 pieces', () => {
    const bad: LlamaModel = {
      ...model,
      weights: { ...model.weights, rmsFinal: f32Tensor([63], new Float32Array(63)) },
    };
    expect(() => exportHfFolder(bad, TOK)).toThrow(
      expect.objectContaining({
        code: 'bad-dims',
        message: expect.stringMatching(/model.norm.weight has shape \[63\], the config implies \[64\]/),
      }),
    );
    const small: LlamaModel = { ...model, config: { ...model.config, vocabSize: 500 } };
    expect(() => exportHfFolder(small, TOK)).toThrow(expect.objectContaining({ code: 'tokenizer-mismatch' }));
    const vocab = vocabFromLlama2c(tok512(), 512);
    vocab.pieces[300] = Uint8Array.of(0xff, 0x41);
    expect(() => exportHfFolder(model, { kind: 'llama2c', bytes: llama2cTokenizerBytes(vocab) })).toThrow(
      expect.objectContaining({ code: 'unsupported', message: expect.stringMatching(/piece 300 is not UTF-8/) }),
    );
  });
});
