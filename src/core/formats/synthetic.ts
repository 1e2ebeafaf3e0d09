// Synthetic Hugging Face checkpoints with real shapes and no real weights (no network here):
// config.json with the published values of SmolLM2-135M, Qwen2.5-0.5B, Qwen3-0.6B and
// Llama-3.2-1B (base, or the -Instruct variant's ids), a bf16 model.safetensors of seeded random
// weights scaled like trained ones (linears and embeddings N(0, 0.02), norm weights 1 + N(0, 0.1),
// Qwen2 biases N(0, 0.1)), a byte-level BPE tokenizer.json (256 byte tokens + seeded synthetic
// merges up to the vocabulary, the family's special tokens at their ids) and tokenizer_config.json
// with the family's chat template. Pure: returns bytes; the bench streams model.safetensors to
// disk with syntheticSafetensorsChunks, tests keep everything in memory.
//
// Options for tests: `layers` (num_hidden_layers), `vocabSize` (the family's specials then sit at
// the top of the smaller vocabulary and config.json's bos/eos ids follow them; SmolLM2's sit at
// 0..16 either way) and `config` (shallow overrides of config.json, e.g. tie_word_embeddings or
// a short rope_scaling.original_max_position_embeddings). Each tensor's values depend only on
// (seed, tensor name), so overrides that keep a shape keep its values.
import { mulberry32 } from '../random.ts';
import { addedToken } from './export/hf-tokenizer-json.ts';
import { LLAMA32_TEMPLATE, QWEN25_TEMPLATE, QWEN3_TEMPLATE, SMOLLM2_TEMPLATE } from './synthetic-templates.ts';

export const SYNTHETIC_FAMILIES = ['smollm2-135m', 'qwen2.5-0.5b', 'qwen3-0.6b', 'llama-3.2-1b'] as const;
export type SyntheticFamily = (typeof SYNTHETIC_FAMILIES)[number];

export interface SyntheticOptions {
  family: SyntheticFamily;
  instruct?: boolean; // the -Instruct repo's ids (Qwen3-0.6B is one model: same either way)
  layers?: number; // num_hidden_layers (default: the published depth)
  vocabSize?: number; // a smaller vocabulary for tests (≥ 256 + the family's special tokens)
  config?: Record<string, unknown>; // shallow overrides of config.json
  seed?: number;
}

type Json = Record<string, unknown>;
interface Family {
  config: Json;
  instruct: Json; // config.json keys that differ in the -Instruct repo
  generationEos?: number[]; // generation_config.json eos_token_id (instruct), when a list
  specials: string[]; // special tokens, in id order from specialBase
  specialBase: number; // id of specials[0] in the published vocabulary
  bos: string | null;
  eos: [string, string]; // [base, instruct] tokenizer_config.json eos_token
  template: string;
}

const QWEN_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const LLAMA_SPECIALS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|reserved_special_token_0|>',
  '<|reserved_special_token_1|>',
  '<|finetune_right_pad_id|>',
  '<|reserved_special_token_2|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eom_id|>',
  '<|eot_id|>',
  '<|python_tag|>',
];
const SMOLLM_SPECIALS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<repo_name>',
  '<reponame>',
  '<file_sep>',
  '<filename>',
  '<gh_stars>',
  '<issue_start>',
  '<issue_comment>',
  '<issue_closed>',
  '<jupyter_start>',
  '<jupyter_text>',
  '<jupyter_code>',
  '<jupyter_output>',
  '<jupyter_script>',
  '<empty_output>',
];

// config.json as published (the keys that matter to a loader; dropout / init keys kept for realism).
const FAMILIES: Record<SyntheticFamily, Family> = {
  'smollm2-135m': {
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: 'silu',
      hidden_size: 576,
      initializer_range: 0.041666666666666664,
      intermediate_size: 1536,
      is_llama_config: true,
      max_position_embeddings: 8192,
      model_type: 'llama',
      num_attention_heads: 9,
      num_hidden_layers: 30,
      num_key_value_heads: 3,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_interleaved: false,
      rope_scaling: null,
      rope_theta: 100000,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      use_cache: true,
      vocab_size: 49152,
    },
    instruct: { bos_token_id: 1, eos_token_id: 2, pad_token_id: 2 },
    specials: SMOLLM_SPECIALS,
    specialBase: 0,
    bos: '<|endoftext|>',
    eos: ['<|endoftext|>', '<|im_end|>'],
    template: SMOLLM2_TEMPLATE,
  },
  'qwen2.5-0.5b': {
    config: {
      architectures: ['Qwen2ForCausalLM'],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: 'silu',
      hidden_size: 896,
      initializer_range: 0.02,
      intermediate_size: 4864,
      max_position_embeddings: 32768,
      max_window_layers: 24,
      model_type: 'qwen2',
      num_attention_heads: 14,
      num_hidden_layers: 24,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      use_cache: true,
      use_mrope: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
    instruct: { eos_token_id: 151645 },
    generationEos: [151645, 151643],
    specials: QWEN_SPECIALS,
    specialBase: 151643,
    bos: null,
    eos: ['<|endoftext|>', '<|im_end|>'],
    template: QWEN25_TEMPLATE,
  },
  'qwen3-0.6b': {
    config: {
      architectures: ['Qwen3ForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151645,
      head_dim: 128,
      hidden_act: 'silu',
      hidden_size: 1024,
      initializer_range: 0.02,
      intermediate_size: 3072,
      max_position_embeddings: 40960,
      max_window_layers: 28,
      model_type: 'qwen3',
      num_attention_heads: 16,
      num_hidden_layers: 28,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1000000,
      sliding_window: null,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
    },
    instruct: {},
    generationEos: [151645, 151643],
    specials: QWEN_SPECIALS,
    specialBase: 151643,
    bos: null,
    eos: ['<|im_end|>', '<|im_end|>'],
    template: QWEN3_TEMPLATE,
  },
  'llama-3.2-1b': {
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 128000,
      eos_token_id: 128001,
      head_dim: 64,
      hidden_act: 'silu',
      hidden_size: 2048,
      initializer_range: 0.02,
      intermediate_size: 8192,
      max_position_embeddings: 131072,
      mlp_bias: false,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: 16,
      num_key_value_heads: 8,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: {
        factor: 32.0,
        high_freq_factor: 4.0,
        low_freq_factor: 1.0,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      rope_theta: 500000.0,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      use_cache: true,
      vocab_size: 128256,
    },
    instruct: { eos_token_id: [128001, 128008, 128009] },
    specials: LLAMA_SPECIALS,
    specialBase: 128000,
    bos: '<|begin_of_text|>',
    eos: ['<|end_of_text|>', '<|eot_id|>'],
    template: LLAMA32_TEMPLATE,
  },
};

/** Where the family's specials start in a vocabulary of V, and how a published id maps into it. */
function specialLayout(f: Family, V: number, published: number): { base: number; mapId: (id: number) => number } {
  if (f.specialBase === 0 || V === published) return { base: f.specialBase, mapId: (id) => id };
  const base = V - f.specials.length;
  return { base, mapId: (id) => (id >= f.specialBase ? id - f.specialBase + base : id) };
}

const mapIds = (v: unknown, map: (id: number) => number): unknown =>
  Array.isArray(v) ? v.map((x) => map(x as number)) : typeof v === 'number' ? map(v) : v;

/** config.json of the synthetic checkpoint (published values, then the options' overrides). */
export function syntheticConfig(opts: SyntheticOptions): Json {
  const f = FAMILIES[opts.family];
  const published = f.config.vocab_size as number;
  const V = opts.vocabSize ?? published;
  const { mapId } = specialLayout(f, V, published);
  const c: Json = { ...f.config, ...(opts.instruct ? f.instruct : {}) };
  for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (k in c) c[k] = mapIds(c[k], mapId);
  c.vocab_size = V;
  if (opts.layers !== undefined) c.num_hidden_layers = opts.layers;
  return { ...c, ...opts.config };
}

type Kind = 'linear' | 'norm' | 'bias';
export interface SyntheticTensor {
  name: string;
  shape: number[];
  kind: Kind;
}

/** The tensors a config implies, HF names and [out, in] shapes, in file order. */
export function syntheticTensors(config: Json): SyntheticTensor[] {
  const n = (k: string) => config[k] as number;
  const dim = n('hidden_size');
  const heads = n('num_attention_heads');
  const hs = (config.head_dim as number | undefined) ?? dim / heads;
  const qd = heads * hs;
  const kvd = n('num_key_value_heads') * hs;
  const hd = n('intermediate_size');
  const V = n('vocab_size');
  const arch = (config.architectures as string[])[0];
  const out: SyntheticTensor[] = [{ name: 'model.embed_tokens.weight', shape: [V, dim], kind: 'linear' }];
  const t = (name: string, shape: number[], kind: Kind) => out.push({ name, shape, kind });
  for (let l = 0; l < n('num_hidden_layers'); l++) {
    const p = `model.layers.${l}.`;
    t(`${p}input_layernorm.weight`, [dim], 'norm');
    t(`${p}self_attn.q_proj.weight`, [qd, dim], 'linear');
    t(`${p}self_attn.k_proj.weight`, [kvd, dim], 'linear');
    t(`${p}self_attn.v_proj.weight`, [kvd, dim], 'linear');
    if (arch === 'Qwen2ForCausalLM') {
      t(`${p}self_attn.q_proj.bias`, [qd], 'bias');
      t(`${p}self_attn.k_proj.bias`, [kvd], 'bias');
      t(`${p}self_attn.v_proj.bias`, [kvd], 'bias');
    }
    if (arch === 'Qwen3ForCausalLM') {
      t(`${p}self_attn.q_norm.weight`, [hs], 'norm');
      t(`${p}self_attn.k_norm.weight`, [hs], 'norm');
    }
    t(`${p}self_attn.o_proj.weight`, [dim, qd], 'linear');
    t(`${p}post_attention_layernorm.weight`, [dim], 'norm');
    t(`${p}mlp.gate_proj.weight`, [hd, dim], 'linear');
    t(`${p}mlp.up_proj.weight`, [hd, dim], 'linear');
    t(`${p}mlp.down_proj.weight`, [dim, hd], 'linear');
  }
  t('model.norm.weight', [dim], 'norm');
  if (config.tie_word_embeddings === false) t('lm_head.weight', [V, dim], 'linear');
  return out;
}

/** 32-bit FNV-1a of a string: a tensor's stream depends on (seed, name) only. */
function hash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** f32 → bf16 bits, round to nearest even (finite inputs only: these are drawn values). */
function bf16(x: number): number {
  f32[0] = x;
  const u = u32[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** 65536 standard normal draws (Box–Muller, fixed seed): values are picked from it by 16 random
 * bits, 5–10× faster than Box–Muller per value (a 1B-parameter checkpoint is drawn in seconds). */
let normals: Float64Array | undefined;
function normalTable(): Float64Array {
  if (normals) return normals;
  const rand = mulberry32(0x6e6962);
  normals = new Float64Array(65536);
  for (let i = 0; i < normals.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const a = 2 * Math.PI * rand();
    normals[i] = r * Math.cos(a);
    normals[i + 1] = r * Math.sin(a);
  }
  return normals;
}

/** One tensor's bf16 bytes: mean + std · N(0, 1), seeded by (seed, name). */
export function syntheticTensorBytes(t: SyntheticTensor, seed = 0): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const [mean, std] = t.kind === 'linear' ? [0, 0.02] : t.kind === 'norm' ? [1, 0.1] : [0, 0.1];
  const table = normalTable();
  const rand = mulberry32(hash(t.name, seed));
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = rand() * 4294967296;
    out[i] = bf16(mean + std * table[r & 0xffff]);
    if (i + 1 < n) out[i + 1] = bf16(mean + std * table[r >>> 16]);
  }
  return new Uint8Array(out.buffer); // little-endian hosts (every WebGPU / Node target)
}

/** model.safetensors as a stream: the 8-byte length + JSON header, then each tensor's bytes. */
export function* syntheticSafetensorsChunks(config: Json, seed = 0): Generator<Uint8Array> {
  const tensors = syntheticTensors(config);
  const header: Json = { __metadata__: { format: 'pt', nibble_synthetic: 'seeded random weights' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = 2 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // data starts 8-aligned
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(new TextEncoder().encode(json), 8);
  yield head;
  for (const t of tensors) yield syntheticTensorBytes(t, seed);
}

/** GPT-2's byte → printable character map (byte-level BPE alphabet). */
function byteAlphabet(): string[] {
  const keep = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let extra = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(keep(b) ? b : 256 + extra++));
}

/**
 * tokenizer.json: byte-level BPE with `bpeCount` tokens (the 256 byte tokens, then one token per
 * seeded merge of two earlier tokens, printable ASCII letters first) and the specials as added tokens.
 */
function syntheticTokenizerJson(f: Family, V: number, published: number, seed = 0): Json {
  const { base } = specialLayout(f, V, published);
  const first = f.specialBase === 0 ? f.specials.length : 0; // SmolLM2: BPE ids after the specials
  const bpeCount = (f.specialBase === 0 ? V : base) - first;
  const alphabet = byteAlphabet();
  const vocab: Record<string, number> = {};
  const tokens: string[] = [];
  const add = (s: string) => {
    vocab[s] = first + tokens.length;
    tokens.push(s);
  };
  alphabet.forEach(add);
  const merges: string[] = [];
  const rand = mulberry32(hash('merges', seed));
  const common = 'etaoinshrdlucmfwypvbgkjqxz'.split('').concat(['Ġ']);
  while (tokens.length < bpeCount) {
    // Early merges join common letters (so real text uses them), later ones join earlier merges.
    const pick = () =>
      rand() < 0.5 || tokens.length < 300
        ? common[Math.floor(rand() * common.length)]
        : tokens[256 + Math.floor(rand() * (tokens.length - 256))];
    const a = pick();
    const b = pick();
    if (a.length + b.length > 16 || Object.hasOwn(vocab, a + b)) continue;
    merges.push(`${a} ${b}`);
    add(a + b);
  }
  const added = f.specials.map((content, i) => addedToken(f.specialBase === 0 ? i : base + i, content));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

const encodeJson = (v: unknown) => new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`);

/** Every file of the synthetic folder except model.safetensors (small files). */
export function syntheticSideFiles(opts: SyntheticOptions): Map<string, Uint8Array> {
  const f = FAMILIES[opts.family];
  const config = syntheticConfig(opts);
  const published = f.config.vocab_size as number;
  const V = config.vocab_size as number;
  const files = new Map<string, Uint8Array>();
  files.set('config.json', encodeJson(config));
  const eos = f.generationEos ? mapIds(f.generationEos, specialLayout(f, V, published).mapId) : config.eos_token_id;
  files.set(
    'generation_config.json',
    encodeJson({ bos_token_id: config.bos_token_id, eos_token_id: opts.instruct ? eos : config.eos_token_id }),
  );
  files.set('tokenizer.json', encodeJson(syntheticTokenizerJson(f, V, published, opts.seed)));
  files.set(
    'tokenizer_config.json',
    encodeJson({
      add_bos_token: f.bos !== null && opts.family === 'llama-3.2-1b',
      bos_token: f.bos,
      eos_token: f.eos[opts.instruct ? 1 : 0],
      pad_token: f.specials[0],
      chat_template: f.template,
      model_max_length: config.max_position_embeddings,
      tokenizer_class: 'PreTrainedTokenizerFast',
      clean_up_tokenization_spaces: false,
    }),
  );
  return files;
}

/** The whole folder in memory: config.json, generation_config.json, tokenizer files, model.safetensors. */
export function syntheticModelFiles(opts: SyntheticOptions): Map<string, Uint8Array> {
  const files = syntheticSideFiles(opts);
  const chunks = [...syntheticSafetensorsChunks(syntheticConfig(opts), opts.seed)];
  const st = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    st.set(c, at);
    at += c.byteLength;
  }
  files.set('model.safetensors', st);
  return files;
}
