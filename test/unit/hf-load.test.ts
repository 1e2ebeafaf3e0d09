// HF folder loader: the transformers-written stories260K folder must compute exactly what the
// llama2.c checkpoint computes (its q/k rows are permuted for rotate-half RoPE, so the weights
// differ but the logits may not), reproduce the golden text with the HF tokenizer, and every
// variant (f16, bf16, sharded, untied, old-style rope_theta, Qwen2 biases) must load correctly.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuForward } from '../../src/core/model/forward.ts';
import { f32Values } from '../../src/core/model/linear.ts';
import { detectModelFormat } from '../../src/core/formats/hf/detect.ts';
import { loadHfModel, looksLikeHfFolder, memoryFolder } from '../../src/core/formats/hf/load.ts';
import { assertRunnable } from '../../src/core/formats/hf/runnable.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { attention, matmul, rmsnorm, rope, siluMul } from '../../src/core/model/ops.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';
import {
  folderOf,
  hfFixtureFiles,
  jsonBytes,
  parseJson,
  sharded,
  tensorsOf,
  withConfig,
  writeTensors,
  asQwen2WithBiases,
} from './hf-fixture.ts';
import { stories260K, STORIES260K_CONFIG } from './helpers.ts';

const files = hfFixtureFiles();
const load = (f: Record<string, Uint8Array>) => loadHfModel(folderOf(f));
const PROMPT_IDS = [1, 403, 407, 261, 378, 29, 300, 340, 261, 385, 402, 441, 368, 46, 350, 293, 266, 301, 442];

function logits(model: LlamaModel, ids: readonly number[] = PROMPT_IDS): Float32Array {
  return new CpuForward(model).forwardAll(ids, 0); // (M, vocab): every position, not just the last
}
function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const rejects = async (f: Record<string, Uint8Array>, code: string, msg: RegExp) => {
  await expect(load(f)).rejects.toMatchObject({ name: 'NibbleError', code, message: expect.stringMatching(msg) });
};

describe('HF stories260K (written by transformers)', () => {
  it('reads config.json into our config: rotate-half RoPE, tied, GQA', async () => {
    const { model, arch, chatTemplate } = await load(files);
    expect(arch).toBe('llama');
    expect(chatTemplate).toBeUndefined();
    expect(model.config).toEqual({
      ...STORIES260K_CONFIG,
      normEps: 1e-5,
      ropeTheta: 10000,
      ropeStyle: 'half',
      sharedClassifier: true,
    });
    expect(model.weights.wcls).toBe(model.weights.tokEmb);
    expect(model.weights.attnBias).toBeUndefined();
  });

  it('gives the same logits as the llama2.c checkpoint at every position (within 1e-5)', async () => {
    const { model } = await load(files);
    const ref = parseLlama2c(stories260K());
    // The permutation is real: q rows differ, yet the maths is the same.
    expect(
      maxAbsDiff((model.weights.layers[0].wq as F32Tensor).data, (ref.weights.layers[0].wq as F32Tensor).data),
    ).toBeGreaterThan(0.01);
    expect(maxAbsDiff(logits(model), logits(ref))).toBeLessThanOrEqual(1e-5);
  });

  it('generates the golden 200 tokens greedily with the HF tokenizer', async () => {
    const { model, tokenizer } = await load(files);
    const golden = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8').replace(
      /\n$/,
      '',
    );
    const res = await generate(createCpuRunner(model), tokenizer, '', {
      maxTokens: 200,
      temperature: 0,
      topP: 1,
      seed: 1,
    });
    expect(res.tokens.length).toBe(200);
    expect(res.text).toBe(golden);
  });

  it('continues a prompt with the same tokens and text as the llama2.c pair', async () => {
    const { model, tokenizer } = await load(files);
    const res = await generate(createCpuRunner(model), tokenizer, 'Once upon a time', {
      maxTokens: 30,
      temperature: 0,
      topP: 1,
      seed: 1,
    });
    const golden = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8');
    expect(res.promptTokens).toBe(5);
    expect('Once upon a time' + res.text).toBe(golden.slice(0, ('Once upon a time' + res.text).length));
  });
});

describe('HF variants built from the fixture', () => {
  it('f16 checkpoints load as 16-bit matrices holding their exact values', async () => {
    const list = tensorsOf(files['model.safetensors']);
    const half = await load({ ...files, 'model.safetensors': writeTensors(list, 'F16') });
    expect(half.model.weights.layers[2].w2.format).toBe('f16'); // no f32 copy: 2 bytes per weight
    expect(half.model.weights.tokEmb.format).toBe('f16');
    // Reference: the same rounded values stored as F32 (decoded independently by tensorsOf).
    const rounded = tensorsOf(writeTensors(list, 'F16'));
    const asF32 = await load({ ...files, 'model.safetensors': writeTensors(rounded, 'F32') });
    expect(f32Values(half.model.weights.layers[2].w2)).toEqual((asF32.model.weights.layers[2].w2 as F32Tensor).data);
    expect(logits(half.model)).toEqual(logits(asF32.model));
    // …and they are close to, not equal to, the f32 model.
    const d = maxAbsDiff(logits(half.model), logits((await load(files)).model));
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(0.05);
  });

  it('bf16 checkpoints load as f16: the f16 rounding of each bf16 value, inexact ones counted', async () => {
    const list = tensorsOf(files['model.safetensors']);
    const half = await load({ ...files, 'model.safetensors': writeTensors(list, 'BF16') });
    expect(half.model.weights.layers[2].w2.format).toBe('f16');
    // Reference: bf16 values decoded independently, rounded to f16 (export writer's encoder), stored as F32.
    const bf16 = tensorsOf(writeTensors(list, 'BF16'));
    const viaF16 = bf16.map((t) =>
      t.shape.length === 2 ? { ...t, data: tensorsOf(writeTensors([t], 'F16'))[0].data } : t,
    );
    let subnormal = 0;
    viaF16.forEach((t, i) => t.data.forEach((v, j) => void (v !== bf16[i].data[j] && subnormal++)));
    expect(subnormal).toBeGreaterThan(0); // the fixture has a few weights below 2^-14
    expect(half.bf16Narrowing).toMatchObject({ overflow: 0, underflow: 0, subnormal });
    expect(half.bf16Narrowing.note).toContain(`${subnormal} below 2^-14`);
    const ref = await load({ ...files, 'model.safetensors': writeTensors(viaF16, 'F32') });
    expect(logits(half.model)).toEqual(logits(ref.model));
    expect(maxAbsDiff(logits(half.model), logits((await load(files)).model))).toBeLessThan(0.5);
  });

  it('sharded checkpoints with model.safetensors.index.json give identical logits', async () => {
    const base = logits((await load(files)).model);
    for (const n of [2, 5]) expect(logits((await load(sharded(files, n))).model)).toEqual(base);
  });

  it('ranged reads (ModelFolder.open) read only the headers and one tensor at a time', async () => {
    const base = logits((await load(files)).model);
    for (const f of [files, sharded(files, 3)]) {
      const reads: number[] = [];
      const folder = memoryFolder(f, true);
      const open = folder.open!;
      folder.open = async (name) => {
        const r = await open(name);
        return r && { size: r.size, read: (off: number, len: number) => (reads.push(len), r.read(off, len)) };
      };
      folder.get = async (name) => (name.endsWith('.safetensors') ? undefined : f[name]); // never the whole file
      expect(logits((await loadHfModel(folder)).model)).toEqual(base);
      expect(Math.max(...reads)).toBe(512 * 64 * 4); // the embedding, the largest tensor
      const total = Object.entries(f).reduce((n, [name, b]) => n + (name.endsWith('.safetensors') ? b.length : 0), 0);
      expect(reads.reduce((a, b) => a + b, 0)).toBe(total); // each byte once: 8-byte length, header, tensors
    }
  });

  it('untied embeddings read lm_head.weight; a missing lm_head is named', async () => {
    const list = tensorsOf(files['model.safetensors']);
    const emb = list.find((t) => t.name === 'model.embed_tokens.weight')!;
    const untied = withConfig(
      {
        ...files,
        'model.safetensors': writeTensors([...list, { ...emb, name: 'lm_head.weight', data: emb.data.slice() }]),
      },
      (c) => (c.tie_word_embeddings = false),
    );
    const { model } = await load(untied);
    expect(model.config.sharedClassifier).toBe(false);
    expect(model.weights.wcls).not.toBe(model.weights.tokEmb);
    expect(logits(model)).toEqual(logits((await load(files)).model));
    await rejects(
      withConfig(files, (c) => (c.tie_word_embeddings = false)),
      'bad-format',
      /no tensor "lm_head.weight"/,
    );
  });

  it('accepts the older top-level rope_theta; the context is max_position_embeddings', async () => {
    const old = withConfig(files, (c) => {
      delete c.rope_parameters;
      c.rope_theta = 10000;
      c.max_position_embeddings = 131072;
    });
    const { model } = await load(old);
    expect(model.config.seqLen).toBe(131072);
    expect(logits(model)).toEqual(logits((await load(files)).model));
    expect(
      (await load(withConfig(files, (c) => (c.rope_parameters = { rope_type: 'default', rope_theta: 5e5 })))).model
        .config.ropeTheta,
    ).toBe(5e5);
  });

  it('Qwen2 applies q/k/v biases, matching an independent forward built from ops', async () => {
    const qwen = asQwen2WithBiases(files);
    const { model, arch } = await load(qwen);
    expect(arch).toBe('qwen2');
    expect(model.weights.attnBias).toHaveLength(5);
    const got = logits(model);
    expect(maxAbsDiff(got, referenceForward(model, PROMPT_IDS))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(got, logits((await load(files)).model))).toBeGreaterThan(0.1); // the biases matter
    expect(() => assertRunnable(model, 'a consumer without biases')).toThrow(
      expect.objectContaining({
        code: 'unsupported',
        message: expect.stringMatching(/consumer without biases does not support attention biases/),
      }),
    );
    expect(() => assertRunnable(model, 'the WebGPU runner', { attentionBias: true })).not.toThrow();
    const llama = (await load(files)).model;
    expect(() => assertRunnable(llama, 'a consumer without biases')).not.toThrow();
    // Qwen2 without its biases is an incomplete checkpoint.
    await rejects(
      withConfig(files, (c) => (c.architectures = ['Qwen2ForCausalLM'])),
      'bad-format',
      /no tensor "model.layers.0.self_attn.q_proj.bias"/,
    );
  });
});

/** Plain forward from ops.ts, written out here (not via CpuForward): x → blocks → logits (M, V). */
function referenceForward(m: LlamaModel, ids: number[]): Float32Array {
  const c = m.config;
  const d = (t: unknown) => (t as F32Tensor).data;
  const M = ids.length,
    D = c.dim,
    hs = c.headSize,
    qd = c.nHeads * hs,
    kvd = c.nKvHeads * hs,
    H = c.hiddenDim;
  const x = new Float32Array(M * D);
  ids.forEach((t, i) => x.set(d(m.weights.tokEmb).subarray(t * D, (t + 1) * D), i * D));
  const xb = new Float32Array(M * D);
  for (let l = 0; l < c.nLayers; l++) {
    const w = m.weights.layers[l];
    const b = m.weights.attnBias?.[l];
    rmsnorm(xb, x, d(w.rmsAtt), M, D, c.normEps);
    const [q, k, v] = [new Float32Array(M * qd), new Float32Array(M * kvd), new Float32Array(M * kvd)];
    matmul(q, xb, d(w.wq), M, D, qd);
    matmul(k, xb, d(w.wk), M, D, kvd);
    matmul(v, xb, d(w.wv), M, D, kvd);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < qd; j++) q[i * qd + j] += b ? b.bq.data[j] : 0;
      for (let j = 0; j < kvd; j++) k[i * kvd + j] += b ? b.bk.data[j] : 0;
      for (let j = 0; j < kvd; j++) v[i * kvd + j] += b ? b.bv.data[j] : 0;
    }
    rope(q, M, c.nHeads, hs, 0, c.ropeTheta, c.ropeStyle);
    rope(k, M, c.nKvHeads, hs, 0, c.ropeTheta, c.ropeStyle);
    const att = new Float32Array(M * qd);
    attention(att, q, k, v, M, 0, c.nHeads, c.nKvHeads, hs);
    const o = new Float32Array(M * D);
    matmul(o, att, d(w.wo), M, qd, D);
    for (let i = 0; i < M * D; i++) x[i] += o[i];
    rmsnorm(xb, x, d(w.rmsFfn), M, D, c.normEps);
    const [h1, h3] = [new Float32Array(M * H), new Float32Array(M * H)];
    matmul(h1, xb, d(w.w1), M, D, H);
    matmul(h3, xb, d(w.w3), M, D, H);
    siluMul(h1, h1, h3, M * H);
    matmul(o, h1, d(w.w2), M, H, D);
    for (let i = 0; i < M * D; i++) x[i] += o[i];
  }
  rmsnorm(xb, x, d(m.weights.rmsFinal), M, D, c.normEps);
  const out = new Float32Array(M * c.vocabSize);
  matmul(out, xb, d(m.weights.wcls), M, D, c.vocabSize);
  return out;
}

describe('HF loader refuses what it cannot run, with typed errors', () => {
  it('names unsupported architectures, RoPE scaling, activations and quantized checkpoints', async () => {
    await rejects(
      withConfig(files, (c) => (c.architectures = ['MistralForCausalLM'])),
      'unsupported',
      /MistralForCausalLM/,
    );
    await rejects(
      withConfig(files, (c) => (c.rope_parameters = { rope_type: 'yarn', rope_theta: 5e5 })),
      'unsupported',
      /rope_type "yarn"/,
    );
    await rejects(
      withConfig(files, (c) => (c.rope_scaling = { type: 'dynamic', factor: 2 })),
      'unsupported',
      /rope_scaling.rope_type "dynamic"/,
    );
    await rejects(
      withConfig(files, (c) => (c.hidden_act = 'gelu')),
      'unsupported',
      /hidden_act "gelu"/,
    );
    await rejects(
      withConfig(files, (c) => (c.quantization_config = { quant_method: 'gptq' })),
      'unsupported',
      /quantized checkpoints \(quantization_config "gptq"\)/,
    );
    await rejects(
      withConfig(files, (c) => (c.attention_bias = true)),
      'unsupported',
      /o_proj bias/,
    );
    await rejects(
      // head_dim may differ from hidden / heads (Qwen3); then q/k/v/o must have its shapes.
      withConfig(files, (c) => (c.head_dim = 16)),
      'bad-dims',
      /q_proj.weight" has shape \[64,64\], config.json implies \[128,64\]/,
    );
  });

  it('checks config values and every tensor shape against config.json', async () => {
    await rejects(
      withConfig(files, (c) => ((c.hidden_size = 128), delete c.head_dim)),
      'bad-dims',
      /model.embed_tokens.weight" has shape \[512,64\], config.json implies \[512,128\]/,
    );
    await rejects(
      withConfig(files, (c) => (c.num_key_value_heads = 3)),
      'bad-dims',
      /not a multiple of num_key_value_heads 3/,
    );
    await rejects(
      withConfig(files, (c) => (c.num_hidden_layers = -1)),
      'bad-dims',
      /num_hidden_layers = -1/,
    );
    await rejects(
      withConfig(files, (c) => (c.intermediate_size = '172')),
      'bad-format',
      /intermediate_size must be a whole number/,
    );
    await rejects(
      withConfig(files, (c) => (c.num_hidden_layers = 6)),
      'bad-format',
      /no tensor "model.layers.5.input_layernorm.weight"/,
    );
    await rejects(
      withConfig(files, (c) => (c.vocab_size = 256)),
      'tokenizer-mismatch',
      /512 tokens.*vocab_size\) has 256/,
    );
  });

  it('names missing files and bad shard indexes', async () => {
    const without = (name: string) => Object.fromEntries(Object.entries(files).filter(([n]) => n !== name));
    await rejects(without('config.json'), 'bad-format', /no config.json/);
    await rejects(without('tokenizer.json'), 'bad-format', /no tokenizer.json/);
    await rejects(without('model.safetensors'), 'bad-format', /no model.safetensors or model.safetensors.index.json/);
    const two = sharded(files, 2);
    const lost = Object.fromEntries(Object.entries(two).filter(([n]) => !n.startsWith('model-00002')));
    await rejects(lost, 'bad-format', /names shard model-00002-of-00002.safetensors, which is not in the folder/);
    const index = parseJson(two['model.safetensors.index.json']) as { weight_map: Record<string, string> };
    index.weight_map['model.norm.weight'] = '../secret.safetensors';
    await rejects(
      { ...two, 'model.safetensors.index.json': jsonBytes(index) },
      'bad-format',
      /must name a .safetensors file in the same folder/,
    );
    index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors';
    await rejects(
      { ...two, 'model.safetensors.index.json': jsonBytes(index) },
      'bad-format',
      /puts "model.norm.weight" in model-00001-of-00002.safetensors, which does not hold it/,
    );
  });

  it('refuses bias tensors it would otherwise ignore', async () => {
    const list = tensorsOf(files['model.safetensors']);
    list.push({ name: 'model.layers.0.self_attn.o_proj.bias', shape: [64], data: new Float32Array(64) });
    await rejects({ ...files, 'model.safetensors': writeTensors(list) }, 'unsupported', /o_proj.bias" is a bias/);
  });
});

describe('format detection helpers', () => {
  it('tells safetensors, llama2.c, GGUF and HF folders apart', () => {
    expect(detectModelFormat(files['model.safetensors'])).toBe('safetensors');
    expect(detectModelFormat(stories260K())).toBe('llama2c');
    expect(detectModelFormat(new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0]))).toBe('gguf');
    expect(detectModelFormat(new Uint8Array(4))).toBe('unknown');
    expect(looksLikeHfFolder(Object.keys(files))).toBe(true);
    expect(looksLikeHfFolder(Object.keys(sharded(files, 2)))).toBe(true);
    expect(looksLikeHfFolder(['config.json', 'pytorch_model.bin'])).toBe(false);
  });
});
