// config.json of a Hugging Face Llama-family model → our LlamaConfig.
//
// Supported: architectures LlamaForCausalLM (Llama 1/2/3.x, SmolLM/SmolLM2, TinyLlama, …),
// Qwen2ForCausalLM (q/k/v attention biases) and Qwen3ForCausalLM (per-head q/k RMSNorm, no
// biases); SiLU SwiGLU MLP without bias, RMSNorm, rotate-half RoPE with `rope_theta` (top-level,
// or transformers 5 `rope_parameters`), RoPE scaling 'linear' and 'llama3', any even head_dim.
// Anything that would change the maths in a way we do not implement (other RoPE scalings, partial
// rotary, o_proj / MLP biases, quantized checkpoints, Gemma-style norms, …) is refused with
// 'unsupported' naming it, never silently run with wrong results. Sources: docs/models.md.
import { NibbleError } from '../../errors.ts';
import type { LlamaConfig, RopeScaling } from '../../model/model.ts';
import { isObject, JsonFields, parseJsonObject, show, type JsonObject } from './json.ts';

/** Positions assumed when config.json has no max_position_embeddings. The model's own context is
 * what the config says; hosts run a shorter one by default (core/model-open.ts chooseContext),
 * since a 32K–128K KV cache costs gigabytes (2 · layers · kvDim · 4 bytes per position). */
export const HF_DEFAULT_POSITIONS = 2048;

// Same generous bounds as the llama2.c loader: beyond them a config is corrupt, not a model.
const MAX_DIM = 1 << 16;
const MAX_LAYERS = 1024;
const MAX_HEADS = 1024;
const MAX_VOCAB = 1 << 20;
const MAX_POSITIONS = 1 << 24;

export type HfArchitecture = 'llama' | 'qwen2' | 'qwen3';

export interface HfModelConfig {
  arch: HfArchitecture;
  config: LlamaConfig; // ropeStyle 'half'
  attentionBias: boolean; // q/k/v_proj.bias tensors present (Qwen2)
  qkNorm: boolean; // self_attn.q_norm / k_norm weights (hs) present (Qwen3)
  tied: boolean | undefined; // tie_word_embeddings; undefined = not stated (decided by lm_head's presence)
  bosTokenId?: number; // from config.json, a fallback for the tokenizer files
  eosTokenIds: number[];
}

const ARCHITECTURES: Readonly<Record<string, HfArchitecture>> = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
};
const MODEL_TYPES: Readonly<Record<string, HfArchitecture>> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };

/** Architectures people will try, with the feature that keeps each out (named in the refusal). */
const REFUSED_FEATURES: Readonly<Record<string, string>> = {
  GemmaForCausalLM: 'Gemma-style RMSNorm (1 + weight), GeGLU and scaled embeddings',
  Gemma2ForCausalLM: 'Gemma-style RMSNorm (1 + weight), logit soft-capping and sliding-window layers',
  Gemma3ForCausalLM: 'Gemma-style RMSNorm (1 + weight), q/k norms and sliding-window layers',
  MistralForCausalLM: 'sliding-window attention',
  Qwen3MoeForCausalLM: 'mixture-of-experts MLPs',
  MixtralForCausalLM: 'mixture-of-experts MLPs',
  Phi3ForCausalLM: 'fused qkv / gate_up projections and longrope scaling',
};

const unsupported = (msg: string) => new NibbleError('unsupported', `config.json: ${msg}`);

function architectureOf(f: JsonFields): HfArchitecture {
  const archs = f.obj.architectures;
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === 'string')) {
      throw new NibbleError('bad-format', `config.json: architectures must be a list of names, got ${show(archs)}`);
    }
    const known = archs.map((a) => (Object.hasOwn(ARCHITECTURES, a) ? ARCHITECTURES[a] : undefined)).find((a) => a);
    if (!known) {
      const why = archs
        .map((a) => (Object.hasOwn(REFUSED_FEATURES, a) ? REFUSED_FEATURES[a] : undefined))
        .find((x) => x);
      throw unsupported(
        `architecture ${archs.join(', ')} is not supported${why ? ` (${why})` : ''}; LlamaForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM are`,
      );
    }
    return known;
  }
  const type = f.str('model_type');
  if (type !== undefined && Object.hasOwn(MODEL_TYPES, type)) return MODEL_TYPES[type];
  throw unsupported(`no architectures, and model_type ${show(type)} is not supported (llama, qwen2, qwen3)`);
}

/** A rope_scaling / rope_parameters object → our scaling, or undefined for 'default'; refuses other types. */
function ropeScalingOf(key: string, p: JsonObject): RopeScaling | undefined {
  const type = p.rope_type ?? p.type ?? 'default';
  const f = new JsonFields(p, `config.json ${key}`);
  if (type === 'default') return undefined;
  if (type === 'linear') return { type: 'linear', factor: f.num('factor', 1e-6, 1e6) };
  if (type === 'llama3') {
    const s: RopeScaling = {
      type: 'llama3',
      factor: f.num('factor', 1e-6, 1e6),
      lowFreqFactor: f.num('low_freq_factor', 1e-6, 1e6),
      highFreqFactor: f.num('high_freq_factor', 1e-6, 1e6),
      originalMaxPositions: f.int('original_max_position_embeddings', 1, MAX_POSITIONS),
    };
    if (!(s.highFreqFactor > s.lowFreqFactor))
      throw new NibbleError(
        'bad-format',
        `config.json: ${key}.high_freq_factor ${s.highFreqFactor} must exceed low_freq_factor ${s.lowFreqFactor}`,
      );
    return s;
  }
  throw unsupported(
    `${key}.rope_type ${show(type)} (RoPE scaling) is not supported; 'default', 'linear' and 'llama3' are`,
  );
}

/** rope_theta and scaling from transformers-5 `rope_parameters` or the older top-level keys. */
function ropeOf(f: JsonFields): { theta: number; scaling?: RopeScaling } {
  const params = f.obj.rope_parameters;
  const scaling = f.obj.rope_scaling;
  let found: RopeScaling | undefined;
  for (const [key, p] of [
    ['rope_parameters', params],
    ['rope_scaling', scaling],
  ] as const) {
    if (p === undefined || p === null) continue;
    if (!isObject(p)) throw new NibbleError('bad-format', `config.json: ${key} must be an object, got ${show(p)}`);
    const partial = p.partial_rotary_factor;
    if (partial !== undefined && partial !== 1)
      throw unsupported(`${key}.partial_rotary_factor ${show(partial)} is not supported`);
    found ??= ropeScalingOf(key, p);
  }
  if (f.obj.partial_rotary_factor !== undefined && f.obj.partial_rotary_factor !== 1) {
    throw unsupported(`partial_rotary_factor ${show(f.obj.partial_rotary_factor)} is not supported`);
  }
  const theta =
    isObject(params) && params.rope_theta !== undefined
      ? new JsonFields(params, 'config.json rope_parameters').num('rope_theta', 1, 1e12)
      : f.num('rope_theta', 1, 1e12, 10000); // transformers' LlamaConfig default
  return found ? { theta, scaling: found } : { theta };
}

function tokenIds(v: unknown, key: string): number[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
    throw new NibbleError('bad-format', `config.json: ${key} must be a token id or a list of them, got ${show(v)}`);
  }
  return list as number[];
}

/** Parses and validates config.json. */
export function parseHfConfig(bytes: Uint8Array): HfModelConfig {
  return hfConfigFromJson(parseJsonObject(bytes, 'config.json'));
}

export function hfConfigFromJson(json: JsonObject): HfModelConfig {
  const f = new JsonFields(json, 'config.json');
  const arch = architectureOf(f);
  const quant = f.obj.quantization_config;
  if (quant !== undefined && quant !== null) {
    const method = isObject(quant) ? quant.quant_method : undefined;
    throw unsupported(
      `quantized checkpoints (quantization_config ${show(method ?? quant)}) are not supported; load the float checkpoint`,
    );
  }
  const act = f.str('hidden_act') ?? f.str('hidden_activation') ?? 'silu';
  if (act !== 'silu') throw unsupported(`hidden_act ${show(act)} is not supported (SwiGLU with silu is)`);
  if (f.bool('mlp_bias', false)) throw unsupported('mlp_bias (biases on the MLP projections) is not supported');
  // Llama's attention_bias adds biases to q, k, v AND o_proj; we implement q/k/v only (Qwen2).
  if (arch !== 'qwen2' && f.bool('attention_bias', false))
    throw unsupported(
      `attention_bias on a ${arch === 'llama' ? 'Llama' : 'Qwen3'} model (o_proj bias) is not supported`,
    );

  const dim = f.int('hidden_size', 1, MAX_DIM);
  const hiddenDim = f.int('intermediate_size', 1, 8 * MAX_DIM);
  const nLayers = f.int('num_hidden_layers', 1, MAX_LAYERS);
  const nHeads = f.int('num_attention_heads', 1, MAX_HEADS);
  const nKvHeads = f.int('num_key_value_heads', 1, nHeads, nHeads);
  const vocabSize = f.int('vocab_size', 3, MAX_VOCAB);
  const maxPos = f.int('max_position_embeddings', 1, MAX_POSITIONS, HF_DEFAULT_POSITIONS);
  const normEps = f.num('rms_norm_eps', 0, 1, 1e-6);
  const rope = ropeOf(f);
  if (nHeads % nKvHeads !== 0)
    throw new NibbleError(
      'bad-dims',
      `config.json: num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`,
    );
  // head_dim may differ from hidden / heads (Qwen3-0.6B: 128 with 1024 / 16); q/k/v/o shapes follow it.
  const stated = f.obj.head_dim === undefined || f.obj.head_dim === null ? undefined : f.int('head_dim', 1, MAX_DIM);
  if (stated === undefined && dim % nHeads !== 0)
    throw new NibbleError(
      'bad-dims',
      `config.json: hidden_size ${dim} is not a multiple of num_attention_heads ${nHeads}`,
    );
  const headSize = stated ?? dim / nHeads;
  if (headSize % 2 !== 0) throw new NibbleError('bad-dims', `config.json: head size ${headSize} must be even for RoPE`);

  let seqLen = maxPos;
  // Qwen2's sliding window only matters past its length: run no longer than the window.
  if (f.bool('use_sliding_window', false)) seqLen = Math.min(seqLen, f.int('sliding_window', 1, MAX_POSITIONS));

  const tiedRaw = f.obj.tie_word_embeddings;
  const tied = tiedRaw === undefined || tiedRaw === null ? undefined : f.bool('tie_word_embeddings', false);
  const bos = tokenIds(f.obj.bos_token_id, 'bos_token_id');
  return {
    arch,
    config: {
      dim,
      hiddenDim,
      nLayers,
      nHeads,
      nKvHeads,
      vocabSize,
      seqLen,
      headSize,
      normEps,
      ropeTheta: rope.theta,
      ropeStyle: 'half',
      sharedClassifier: tied ?? false,
      ...(rope.scaling ? { ropeScaling: rope.scaling } : {}),
    },
    attentionBias: arch === 'qwen2',
    qkNorm: arch === 'qwen3',
    tied,
    bosTokenId: bos[0],
    eosTokenIds: tokenIds(f.obj.eos_token_id, 'eos_token_id'),
  };
}
