// Real-shape synthetic checkpoints of SmolLM2-135M, Qwen2.5-0.5B, Qwen3-0.6B and Llama-3.2-1B
// (src/core/formats/synthetic.ts: published config.json, seeded bf16 weights; 1–2 layers and a
// 512-token vocabulary here) loaded through the real HF loader and run by the CPU runner, checked
// against test/unit/reference/hf-forward.ts, a separate forward written from the published formulas.
import { describe, expect, it } from 'vitest';
import { hfConfigFromJson } from '../../src/core/formats/hf/config.ts';
import { loadHfModel, memoryFolder } from '../../src/core/formats/hf/load.ts';
import { syntheticConfig, syntheticModelFiles, type SyntheticOptions } from '../../src/core/formats/synthetic.ts';
import { unsupportedOnGpu } from '../../src/core/model/gpu-support.ts';
import { ropeInvFreq } from '../../src/core/model/rope.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { readSafetensors, referenceForward, referenceInvFreq } from './reference/hf-forward.ts';

const V = 512;
const json = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b)) as Record<string, unknown>;

/** Seeded token ids in [0, V). */
function tokens(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % V;
  });
}

async function load(opts: SyntheticOptions) {
  const files = syntheticModelFiles(opts);
  const loaded = await loadHfModel(memoryFolder(files));
  return { files, ...loaded };
}

/**
 * The CPU runner's logits at every position — a prefill of the first `prefill` tokens (M > 1),
 * then one decode step per token (M = 1) — against the reference's; returns the worst |Δ|.
 */
async function compareToReference(
  model: LlamaModel,
  files: Map<string, Uint8Array>,
  ids: number[],
  prefill: number,
  everyRow = true, // also runner.logitsAll (one more pass)
) {
  const want = referenceForward(json(files.get('config.json')), readSafetensors(files.get('model.safetensors')!), ids);
  const runner = createCpuRunner(model);
  const got: Float32Array[] = [];
  const first = await runner.step(ids.slice(0, prefill), 0, 'logits');
  if (first.kind !== 'logits') throw new Error('logits expected');
  got[prefill - 1] = first.logits;
  for (let t = prefill; t < ids.length; t++) {
    const r = await runner.step([ids[t]], t, 'logits');
    if (r.kind !== 'logits') throw new Error('logits expected');
    got[t] = r.logits;
  }
  let worst = 0;
  let scale = 0;
  for (let t = prefill - 1; t < ids.length; t++) {
    for (let i = 0; i < V; i++) {
      worst = Math.max(worst, Math.abs(got[t][i] - want[t][i]));
      scale = Math.max(scale, Math.abs(want[t][i]));
    }
  }
  if (everyRow) {
    const all = (await runner.logitsAll(ids)).logits; // every row of one prefill
    for (let t = 0; t < ids.length; t++)
      for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(all[t * V + i] - want[t][i]));
  }
  return { worst, scale, want };
}

describe('synthetic checkpoints carry the published configs (shared/docs/models.md)', () => {
  it.each([
    ['smollm2-135m', [576, 1536, 30, 9, 3, 64, 49152, 100000, 1e-5, 8192]],
    ['qwen2.5-0.5b', [896, 4864, 24, 14, 2, 64, 151936, 1000000, 1e-6, 32768]],
    ['qwen3-0.6b', [1024, 3072, 28, 16, 8, 128, 151936, 1000000, 1e-6, 40960]],
    ['llama-3.2-1b', [2048, 8192, 16, 32, 8, 64, 128256, 500000, 1e-5, 131072]],
  ] as const)('%s', (family, v) => {
    const h = hfConfigFromJson(syntheticConfig({ family }));
    const c = h.config;
    expect([c.dim, c.hiddenDim, c.nLayers, c.nHeads, c.nKvHeads, c.headSize, c.vocabSize]).toEqual(v.slice(0, 7));
    expect([c.ropeTheta, c.normEps, c.seqLen, c.sharedClassifier]).toEqual([...v.slice(7), true]);
    expect(h.qkNorm).toBe(family === 'qwen3-0.6b');
    expect(h.attentionBias).toBe(family === 'qwen2.5-0.5b');
    expect(c.ropeScaling).toEqual(
      family === 'llama-3.2-1b'
        ? { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 }
        : undefined,
    );
  });
});

describe('RoPE inverse frequencies', () => {
  it("Llama-3.2-1B's llama3 table (θ 5e5, d 64, factor 32, low 1, high 4, L 8192) equals the formula", () => {
    const c = hfConfigFromJson(syntheticConfig({ family: 'llama-3.2-1b' })).config;
    const got = ropeInvFreq(c);
    const want = referenceInvFreq(64, 500000, {
      rope_type: 'llama3',
      factor: 32,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    });
    expect(got).toHaveLength(32);
    for (let i = 0; i < 32; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-15 * want[i]);
    // The three bands: wavelengths < 2048 kept, > 8192 divided by 32, a smooth blend between.
    const plain = Array.from({ length: 32 }, (_, i) => 500000 ** (-i / 32));
    const wavelen = plain.map((f) => (2 * Math.PI) / f);
    const kept = plain.filter((_, i) => wavelen[i] < 2048).length;
    const scaled = plain.filter((_, i) => wavelen[i] > 8192).length;
    expect(kept).toBeGreaterThan(0);
    expect(scaled).toBeGreaterThan(0);
    expect(kept + scaled).toBeLessThan(32); // some blended
    for (let i = 0; i < 32; i++) {
      const rel = (a: number, b: number) => Math.abs(a - b) / b;
      if (wavelen[i] < 2048) expect(rel(got[i], plain[i])).toBeLessThanOrEqual(1e-15);
      else if (wavelen[i] > 8192) expect(rel(got[i], plain[i] / 32)).toBeLessThanOrEqual(1e-15);
      else expect(got[i] < plain[i] && got[i] > plain[i] / 32).toBe(true);
    }
  });

  it("'linear' divides every frequency by its factor; 'default' is θ^(−2i/d)", () => {
    const cfg = { ...syntheticConfig({ family: 'smollm2-135m' }), rope_scaling: { type: 'linear', factor: 4 } };
    const c = hfConfigFromJson(cfg).config;
    expect(c.ropeScaling).toEqual({ type: 'linear', factor: 4 });
    const got = ropeInvFreq(c);
    const want = referenceInvFreq(64, 100000, { type: 'linear', factor: 4 });
    for (let i = 0; i < 32; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-15 * want[i]);
    const plain = ropeInvFreq({ ...c, ropeScaling: undefined });
    for (let i = 0; i < 32; i++) expect(plain[i]).toBe(1 / Math.pow(100000, (2 * i) / 64));
  });
});

// Logits are O(1) (max |logit| ≈ 2.4: weights N(0, 0.02), norms ≈ 1); the runner rounds to f32
// after each op, the reference stays in f64: measured ≤ 3e-7 apart (1 layer, 8 positions).
const TOL = 2e-6;

describe('CPU runner = reference forward on real-shape synthetic models', () => {
  it('SmolLM2-135M (2 layers, tied head): prefill + decode', async () => {
    const { model, files } = await load({ family: 'smollm2-135m', layers: 2, vocabSize: V });
    expect(model.config.sharedClassifier).toBe(true);
    expect(model.weights.wcls).toBe(model.weights.tokEmb);
    const { worst, scale } = await compareToReference(model, files, tokens(12, 1), 8);
    expect(scale).toBeGreaterThan(0.1);
    expect(worst).toBeLessThanOrEqual(TOL);
  }, 60_000);

  it('SmolLM2-135M untied (tie_word_embeddings false → lm_head.weight)', async () => {
    const opts = { family: 'smollm2-135m', layers: 1, vocabSize: V, config: { tie_word_embeddings: false } } as const;
    const { model, files } = await load(opts);
    expect(model.config.sharedClassifier).toBe(false);
    expect(model.weights.wcls).not.toBe(model.weights.tokEmb);
    const { worst } = await compareToReference(model, files, tokens(8, 2), 5);
    expect(worst).toBeLessThanOrEqual(TOL);
  }, 60_000);

  it('Qwen2.5-0.5B (q/k/v biases)', async () => {
    const { model, files } = await load({ family: 'qwen2.5-0.5b', layers: 1, vocabSize: V });
    expect(model.weights.attnBias).toHaveLength(1);
    const ids = tokens(10, 3);
    const { worst, want } = await compareToReference(model, files, ids, 6);
    expect(worst).toBeLessThanOrEqual(TOL);
    // Without its biases the model computes something else: the check above is sensitive to them.
    const plain = await createCpuRunner({ ...model, weights: { ...model.weights, attnBias: undefined } }).logitsAll(
      ids,
    );
    expect(Math.max(...want[9].map((w, i) => Math.abs(w - plain.logits[9 * V + i])))).toBeGreaterThan(1e-2);
  }, 60_000);

  it('Qwen3-0.6B (q/k norms per head, head_dim 128 ≠ 1024 / 16)', async () => {
    const { model, files } = await load({ family: 'qwen3-0.6b', layers: 1, vocabSize: V });
    expect(model.config.headSize * model.config.nHeads).toBe(2048);
    expect(model.weights.qkNorm).toHaveLength(1);
    expect(model.weights.qkNorm![0].q.shape).toEqual([128]);
    const ids = tokens(10, 4);
    const { worst, want } = await compareToReference(model, files, ids, 6);
    expect(worst).toBeLessThanOrEqual(TOL);
    const plain = await createCpuRunner({ ...model, weights: { ...model.weights, qkNorm: undefined } }).logitsAll(ids);
    expect(Math.max(...want[9].map((w, i) => Math.abs(w - plain.logits[9 * V + i])))).toBeGreaterThan(1e-2);
  }, 60_000);

  it('Llama-3.2-1B (llama3 RoPE) at positions past a short original_max_position_embeddings', async () => {
    // L = 16 and high_freq_factor 2 (published: 8192, 4; factor 32 and low 1 kept): wavelengths
    // < 8 are kept (pair 0: 2π), 8..16 blended (pairs 1–2), > 16 scaled (pairs 3–31), and 20
    // positions run past L, its low-frequency band, at real width (2048, 32 / 8 heads, 8192).
    const rope_scaling = {
      factor: 32.0,
      high_freq_factor: 2.0,
      low_freq_factor: 1.0,
      original_max_position_embeddings: 16,
      rope_type: 'llama3',
    };
    const { model, files } = await load({ family: 'llama-3.2-1b', layers: 1, vocabSize: V, config: { rope_scaling } });
    expect(model.config.ropeScaling).toMatchObject({ type: 'llama3', originalMaxPositions: 16 });
    const ids = tokens(20, 5);
    const { worst, want } = await compareToReference(model, files, ids, 17, false);
    expect(worst).toBeLessThanOrEqual(TOL);
    // Unscaled frequencies differ already at position 5 (pair 3 turns 1.4 rad further): detectable.
    const unscaled = createCpuRunner({ ...model, config: { ...model.config, ropeScaling: undefined } });
    const plain = await unscaled.logitsAll(ids.slice(0, 6));
    expect(Math.max(...want[5].map((w, i) => Math.abs(w - plain.logits[5 * V + i])))).toBeGreaterThan(1e-3);
  }, 120_000);
});

// Tokenizer and feature checks need the files and the loader, not the widths: narrow blocks keep
// them fast (head_dim 32 · 4 heads ≠ hidden 64 still, for Qwen3 whose config states head_dim).
const NARROW = { hidden_size: 64, intermediate_size: 96, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16 };

describe('tokenizers, EOS lists and chat templates through the real loader', () => {
  const chat = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi there' },
  ];
  it.each([
    [
      'smollm2-135m',
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    ],
    [
      'qwen2.5-0.5b',
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    ],
    [
      'qwen3-0.6b',
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    ],
    [
      'llama-3.2-1b',
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    ],
  ] as const)(
    '%s (instruct) renders its template, tokenizes specials, stops on every EOS',
    async (family, text) => {
      const files = syntheticModelFiles({ family, layers: 1, vocabSize: V, instruct: true, config: NARROW });
      const { tokenizer } = await loadHfModel(memoryFolder(files));
      const rendered = tokenizer.applyChatTemplate(chat, { add_generation_prompt: true });
      // Llama 3.x templates print today's date through strftime_now (or "26 Jul 2024" without it).
      expect(rendered.replace(/Today Date: \d\d [A-Z][a-z]{2} \d{4}/, 'Today Date: 26 Jul 2024')).toBe(text);
      const ids = tokenizer.encode(rendered, { bos: false, eos: false });
      expect(tokenizer.decode(ids)).toBe(rendered.replace(/<\|[a-z_]+\|>/g, '')); // specials are not printed
      const cfg = json(files.get('config.json'));
      const gen = json(files.get('generation_config.json'));
      const eos = [cfg.eos_token_id, gen.eos_token_id].flat() as number[];
      for (const id of eos) expect(tokenizer.stopIds).toContain(id);
      if (family === 'llama-3.2-1b') expect(new Set(tokenizer.stopIds).size).toBe(3); // end_of_text, eom, eot
      if (family.startsWith('qwen')) expect(new Set(tokenizer.stopIds).size).toBe(2); // im_end, endoftext
      // The template's specials are single tokens at the top of the 512-token vocabulary.
      const special = family === 'smollm2-135m' ? 1 : family === 'llama-3.2-1b' ? V - 11 + 6 : V - 3 + 1;
      expect(ids).toContain(special);
    },
    60_000,
  );
});

describe('the WebGPU runner declares every family (core/model/gpu-support.ts; test/gpu/runner-families.test.ts)', () => {
  it('runs SmolLM2, Qwen2.5, Qwen3 (norms, head_dim ≠ hidden / heads) and llama3 RoPE', async () => {
    for (const family of ['smollm2-135m', 'qwen2.5-0.5b', 'qwen3-0.6b', 'llama-3.2-1b'] as const) {
      const config = family === 'qwen3-0.6b' ? { ...NARROW, head_dim: 32 } : NARROW;
      expect(unsupportedOnGpu((await load({ family, layers: 1, vocabSize: V, config })).model)).toBeUndefined();
    }
  }, 60_000);
});

describe('config refusals name the feature', () => {
  const base = syntheticConfig({ family: 'qwen3-0.6b', layers: 1 });
  const refuses = (cfg: Record<string, unknown>, re: RegExp) =>
    expect(() => hfConfigFromJson(cfg)).toThrow(
      expect.objectContaining({ code: 'unsupported', message: expect.stringMatching(re) }),
    );
  it('unknown RoPE types, Gemma-style norms, Qwen3 attention_bias', () => {
    refuses({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }, /rope_type "yarn"/);
    refuses({ ...base, rope_parameters: { rope_type: 'dynamic', rope_theta: 1e6 } }, /rope_type "dynamic"/);
    refuses({ ...base, architectures: ['Gemma2ForCausalLM'] }, /Gemma-style RMSNorm \(1 \+ weight\)/);
    refuses({ ...base, attention_bias: true }, /attention_bias on a Qwen3 model/);
  });
  it('reads transformers-5 rope_parameters with a llama3 type', () => {
    const cfg = syntheticConfig({ family: 'llama-3.2-1b', layers: 1 });
    const { rope_scaling: s, rope_theta, ...rest } = cfg;
    const c = hfConfigFromJson({ ...rest, rope_parameters: { ...(s as object), rope_theta } }).config;
    expect(c.ropeTheta).toBe(500000);
    expect(c.ropeScaling).toEqual({
      type: 'llama3',
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositions: 8192,
    });
  });
});
