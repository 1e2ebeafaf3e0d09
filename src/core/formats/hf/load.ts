// Hugging Face Llama-family folder → LlamaModel + tokenizer (+ chat template).
//
// A folder is anything with `get(name)`: Node's fs, a browser directory handle (File System
// Access API), dropped files, or a Map in tests. Files read:
//   config.json                              required (core/hf/config.ts)
//   model.safetensors | model.safetensors.index.json + its shards   required
//   tokenizer.json                           required; tokenizer_config.json, generation_config.json,
//                                            chat_template.jinja optional
// Tensor names (all [out, in] like ours; HF q/k rows are already in rotate-half order, so the
// model runs with ropeStyle 'half' and no permutation):
//   model.embed_tokens.weight (V, dim)        model.norm.weight (dim)     lm_head.weight (V, dim), absent when tied
//   model.layers.N.input_layernorm.weight (dim)          model.layers.N.post_attention_layernorm.weight (dim)
//   model.layers.N.self_attn.{q,k,v,o}_proj.weight        q (nH·hs, dim), k/v (nKv·hs, dim), o (dim, nH·hs)
//   model.layers.N.self_attn.{q,k,v}_proj.bias (Qwen2)   (nH·hs), (nKv·hs), (nKv·hs)
//   model.layers.N.self_attn.{q,k}_norm.weight (Qwen3)   (hs) each: per-head RMSNorm before RoPE
//   model.layers.N.mlp.{gate,up,down}_proj.weight        gate/up (hidden, dim) = our w1/w3, down (dim, hidden) = w2
// Each tensor's shape is checked against config.json before its data is converted. Shards are
// read one at a time; with ModelFolder.open, only headers and one tensor's bytes at a time.
import { NibbleError } from '../../errors.ts';
import { HfTokenizer, type HfTokenizerOptions } from '../../tokenizers/hf-tokenizer.ts';
import type { AttentionBias, LayerWeights, LlamaModel, QkNorm } from '../../model/model.ts';
import {
  INDEX_FILE,
  parseSafetensors,
  parseSafetensorsHeader,
  parseSafetensorsIndex,
  readTensor,
  readTensorRanged,
  type RangeReader,
  type SafetensorsFile,
} from '../safetensors.ts';
import type { F16Tensor, F32Tensor } from '../../tensor.ts';
import type { Bf16Narrowing } from '../f16-tensor.ts';
import { hfConfigFromJson, type HfArchitecture, type HfModelConfig } from './config.ts';
import { parseJsonObject } from './json.ts';

/**
 * A folder of model files; `get` resolves undefined for a file that does not exist. `open`, when
 * given, is used for the .safetensors files instead: the loader then reads the header and one
 * tensor at a time, so the whole checkpoint is never in memory next to its converted tensors.
 */
export interface ModelFolder {
  get(name: string): Promise<Uint8Array | undefined>;
  open?(name: string): Promise<RangeReader | undefined>;
}

export interface HfLoadResult {
  model: LlamaModel;
  tokenizer: HfTokenizer;
  chatTemplate?: string;
  /** BOS/EOS fallbacks and chat_template.jinja as given to the tokenizer (kept in .nibble files). */
  tokenizerOptions: HfTokenizerOptions;
  arch: HfArchitecture;
  /**
   * BF16 matrices load as f16 (2 bytes per weight, see f16-tensor.ts): values f16 cannot hold
   * exactly (f16-tensor.ts Bf16Narrowing) are counted here, with a sentence for the user when any.
   */
  bf16Narrowing: Bf16Narrowing & { note?: string };
}

/** A ModelFolder over files already in memory (drag-and-drop, tests); `ranged` adds `open`. */
export function memoryFolder(files: Record<string, Uint8Array> | Map<string, Uint8Array>, ranged = false): ModelFolder {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const folder: ModelFolder = { get: async (name) => map.get(name) };
  if (ranged) {
    folder.open = async (name) => {
      const b = map.get(name);
      return b && { size: b.byteLength, read: async (offset, length) => b.slice(offset, offset + length) };
    };
  }
  return folder;
}

const missing = (what: string) => new NibbleError('bad-format', `not a Hugging Face model folder: ${what}`);

/** Expected shape of every tensor we read, by name; `optional` ones may be absent. */
function tensorPlan(h: HfModelConfig): { shapes: Map<string, number[]>; optional: Set<string> } {
  const { dim, hiddenDim: hd, nLayers, nHeads, nKvHeads, headSize: hs, vocabSize: V } = h.config;
  const qd = nHeads * hs;
  const kvd = nKvHeads * hs;
  const shapes = new Map<string, number[]>([
    ['model.embed_tokens.weight', [V, dim]],
    ['model.norm.weight', [dim]],
  ]);
  // lm_head: required when untied, ignored when tied (transformers ties it to the embedding),
  // and when config.json does not say, its presence decides.
  if (h.tied !== true) shapes.set('lm_head.weight', [V, dim]);
  const optional = new Set<string>(h.tied === undefined ? ['lm_head.weight'] : []);
  for (let l = 0; l < nLayers; l++) {
    const p = `model.layers.${l}.`;
    shapes.set(`${p}input_layernorm.weight`, [dim]).set(`${p}post_attention_layernorm.weight`, [dim]);
    shapes.set(`${p}self_attn.q_proj.weight`, [qd, dim]).set(`${p}self_attn.k_proj.weight`, [kvd, dim]);
    shapes.set(`${p}self_attn.v_proj.weight`, [kvd, dim]).set(`${p}self_attn.o_proj.weight`, [dim, qd]);
    shapes
      .set(`${p}mlp.gate_proj.weight`, [hd, dim])
      .set(`${p}mlp.up_proj.weight`, [hd, dim])
      .set(`${p}mlp.down_proj.weight`, [dim, hd]);
    if (h.attentionBias)
      shapes
        .set(`${p}self_attn.q_proj.bias`, [qd])
        .set(`${p}self_attn.k_proj.bias`, [kvd])
        .set(`${p}self_attn.v_proj.bias`, [kvd]);
    if (h.qkNorm) shapes.set(`${p}self_attn.q_norm.weight`, [hs]).set(`${p}self_attn.k_norm.weight`, [hs]);
  }
  return { shapes, optional };
}

/** Refuses tensors that would change the maths if ignored (biases and q/k norms we do not apply). */
function checkLeftovers(names: Iterable<string>, shapes: Map<string, number[]>, where: string): void {
  const layerOf = (n: string) => /^model\.layers\.(\d+)\./.exec(n)?.[1];
  const layers = new Set([...shapes.keys()].map(layerOf));
  for (const name of names) {
    const layer = layerOf(name);
    if (layer !== undefined && !layers.has(layer))
      throw new NibbleError(
        'bad-dims',
        `${where}: tensor "${name}" belongs to layer ${layer}, past config.json's num_hidden_layers: the counts disagree`,
      );
    if (/\.(q|k)_norm\.weight$/.test(name) && !shapes.has(name)) {
      throw new NibbleError(
        'unsupported',
        `${where}: tensor "${name}" is a q/k norm, which only Qwen3ForCausalLM checkpoints apply here`,
      );
    }
    if (name.endsWith('.bias') && !shapes.has(name)) {
      throw new NibbleError(
        'unsupported',
        `${where}: tensor "${name}" is a bias this loader does not apply (only Qwen2's q/k/v biases are supported)`,
      );
    }
  }
}

/** One parsed .safetensors file and a way to read its tensors (from memory or by ranges). */
interface Shard {
  file: SafetensorsFile;
  read(name: string): Promise<F32Tensor | F16Tensor>;
}

async function openShard(folder: ModelFolder, name: string, note: Bf16Narrowing): Promise<Shard | undefined> {
  if (folder.open) {
    const reader = await folder.open(name);
    if (!reader) return undefined;
    const file = await parseSafetensorsHeader(reader, name);
    return { file, read: (t) => readTensorRanged(file, t, reader, note) };
  }
  const bytes = await folder.get(name);
  if (!bytes) return undefined;
  const file = parseSafetensors(bytes, name);
  return { file, read: async (t) => readTensor(file, t, note) };
}

/** Checks the shape of each planned tensor found in one shard, then hands it to `take`. */
async function takeTensors(
  shard: Shard,
  names: readonly string[],
  shapes: Map<string, number[]>,
  take: TakeTensor,
): Promise<void> {
  for (const name of names) {
    const e = shard.file.tensors.get(name);
    if (!e) continue;
    const want = shapes.get(name)!;
    if (e.shape.length !== want.length || e.shape.some((d, i) => d !== want[i])) {
      throw new NibbleError(
        'bad-dims',
        `${shard.file.fileName}: tensor "${name}" has shape [${e.shape}], config.json implies [${want}]`,
      );
    }
    await take(shard, name);
  }
}

type TakeTensor = (shard: Shard, name: string) => Promise<void>;

/** Visits every planned tensor present in the checkpoint (one shard at a time, in name order). */
async function forEachTensor(
  folder: ModelFolder,
  shapes: Map<string, number[]>,
  take: TakeTensor,
  note: Bf16Narrowing = { overflow: 0, underflow: 0, subnormal: 0 },
): Promise<void> {
  const names = [...shapes.keys()];
  const single = await openShard(folder, 'model.safetensors', note);
  if (single) {
    checkLeftovers(single.file.tensors.keys(), shapes, single.file.fileName);
    await takeTensors(single, names, shapes, take);
    return;
  }
  const indexBytes = await folder.get(INDEX_FILE);
  if (!indexBytes)
    throw missing('no model.safetensors or model.safetensors.index.json (PyTorch .bin checkpoints are not supported)');
  const index = parseSafetensorsIndex(indexBytes);
  checkLeftovers(index.keys(), shapes, INDEX_FILE);
  const byShard = new Map<string, string[]>();
  for (const name of names) {
    const shard = index.get(name);
    if (shard !== undefined) byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  for (const [shardName, list] of [...byShard].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const shard = await openShard(folder, shardName, note);
    if (!shard) throw missing(`${INDEX_FILE} names shard ${shardName}, which is not in the folder`);
    const absent = list.find((n) => !shard.file.tensors.has(n));
    if (absent)
      throw new NibbleError('bad-format', `${INDEX_FILE} puts "${absent}" in ${shardName}, which does not hold it`);
    await takeTensors(shard, list, shapes, take);
  }
}

/** Every planned tensor: F16/BF16 matrices as f16, everything else f32 (safetensors readTensor). */
async function readAllTensors(
  folder: ModelFolder,
  shapes: Map<string, number[]>,
  note: Bf16Narrowing,
): Promise<Map<string, F32Tensor | F16Tensor>> {
  const out = new Map<string, F32Tensor | F16Tensor>();
  await forEachTensor(folder, shapes, async (shard, name) => void out.set(name, await shard.read(name)), note);
  return out;
}

/** The user's sentence for bf16 values f16 could not hold (none: undefined). */
export function bf16Note(n: Bf16Narrowing): string | undefined {
  if (!n.overflow && !n.underflow && !n.subnormal) return undefined;
  return `bf16 weights were stored as f16: ${n.overflow} value(s) beyond ±65504 became ±∞, ${n.underflow} below 2^-25 became 0, ${n.subnormal} below 2^-14 were rounded to f16's subnormal steps`;
}

/** Missing required tensors → 'bad-format'; whether the classifier is the embedding. */
function checkComplete(
  h: HfModelConfig,
  present: (name: string) => boolean,
  optional: Set<string>,
  shapes: Map<string, number[]>,
): boolean {
  for (const name of shapes.keys()) {
    if (!present(name) && !optional.has(name))
      throw new NibbleError('bad-format', `the checkpoint has no tensor "${name}"`);
  }
  return h.tied ?? !present('lm_head.weight');
}

function assemble(
  h: HfModelConfig,
  t: Map<string, F32Tensor | F16Tensor>,
  optional: Set<string>,
  shapes: Map<string, number[]>,
): LlamaModel {
  const tied = checkComplete(h, (name) => t.has(name), optional, shapes);
  const get = (name: string) => t.get(name)!;
  const vec = (name: string) => t.get(name) as F32Tensor; // 1-D: always read as f32
  const tokEmb = get('model.embed_tokens.weight');
  const layers: LayerWeights[] = Array.from({ length: h.config.nLayers }, (_, l) => {
    const p = `model.layers.${l}.`;
    return {
      rmsAtt: get(`${p}input_layernorm.weight`),
      wq: get(`${p}self_attn.q_proj.weight`),
      wk: get(`${p}self_attn.k_proj.weight`),
      wv: get(`${p}self_attn.v_proj.weight`),
      wo: get(`${p}self_attn.o_proj.weight`),
      rmsFfn: get(`${p}post_attention_layernorm.weight`),
      w1: get(`${p}mlp.gate_proj.weight`),
      w2: get(`${p}mlp.down_proj.weight`),
      w3: get(`${p}mlp.up_proj.weight`),
    };
  });
  const attnBias: AttentionBias[] | undefined = !h.attentionBias
    ? undefined
    : layers.map((_, l) => {
        const p = `model.layers.${l}.self_attn.`;
        return { bq: vec(`${p}q_proj.bias`), bk: vec(`${p}k_proj.bias`), bv: vec(`${p}v_proj.bias`) };
      });
  const qkNorm: QkNorm[] | undefined = !h.qkNorm
    ? undefined
    : layers.map((_, l) => {
        const p = `model.layers.${l}.self_attn.`;
        return { q: vec(`${p}q_norm.weight`), k: vec(`${p}k_norm.weight`) };
      });
  return {
    config: { ...h.config, sharedClassifier: tied },
    weights: {
      tokEmb,
      layers,
      rmsFinal: get('model.norm.weight'),
      wcls: tied ? tokEmb : get('lm_head.weight'),
      ...(attnBias ? { attnBias } : {}),
      ...(qkNorm ? { qkNorm } : {}),
    },
  };
}

/** EOS ids from generation_config.json (a list for chat models, e.g. <|im_end|> and <|endoftext|>). */
function generationEos(bytes: Uint8Array | undefined): number[] {
  if (!bytes) return [];
  const v = parseJsonObject(bytes, 'generation_config.json').eos_token_id;
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is number => Number.isSafeInteger(x) && (x as number) >= 0);
}

/** Loads an HF Llama-family folder; every failure is a NibbleError (see errors.ts codes). */
export async function loadHfModel(folder: ModelFolder): Promise<HfLoadResult> {
  const configBytes = await folder.get('config.json');
  if (!configBytes) throw missing('no config.json');
  const configJson = parseJsonObject(configBytes, 'config.json');
  const h = hfConfigFromJson(configJson);

  const tokJson = await folder.get('tokenizer.json');
  if (!tokJson) throw missing('no tokenizer.json (the model needs a Hugging Face fast tokenizer)');
  const templateFile = await folder.get('chat_template.jinja');
  const tokenizerOptions: HfTokenizerOptions = {
    bosId: h.bosTokenId,
    eosIds: [...h.eosTokenIds, ...generationEos(await folder.get('generation_config.json'))],
    chatTemplate: templateFile ? new TextDecoder().decode(templateFile) : undefined,
  };
  const tokenizer = HfTokenizer.fromFiles(tokJson, await folder.get('tokenizer_config.json'), tokenizerOptions);
  if (tokenizer.vocabSize > h.config.vocabSize) {
    throw new NibbleError(
      'tokenizer-mismatch',
      `tokenizer.json has ${tokenizer.vocabSize} tokens, the model's vocabulary (config.json vocab_size) has ${h.config.vocabSize}`,
    );
  }

  const { shapes, optional } = tensorPlan(h);
  const narrowing: Bf16Narrowing = { overflow: 0, underflow: 0, subnormal: 0 };
  const tensors = await readAllTensors(folder, shapes, narrowing);
  const model = assemble(h, tensors, optional, shapes);
  const note = bf16Note(narrowing);
  return {
    model,
    tokenizer,
    tokenizerOptions,
    chatTemplate: tokenizer.chatTemplate,
    arch: h.arch,
    bf16Narrowing: { ...narrowing, ...(note ? { note } : {}) },
  };
}

/** A folder's model as its headers describe it: config.json and the safetensors headers only (no tensor data). */
export interface HfFolderInfo {
  hf: HfModelConfig;
  /** The tensors a load converts (each to f32), by HF name; lm_head absent when tied. */
  tensors: { name: string; dtype: string; shape: number[]; numel: number }[];
  tied: boolean;
}

/** Reads config.json and the safetensors headers (index + shards) and checks them as a load would. */
export async function inspectHfFolder(folder: ModelFolder): Promise<HfFolderInfo> {
  const configBytes = await folder.get('config.json');
  if (!configBytes) throw missing('no config.json');
  const hf = hfConfigFromJson(parseJsonObject(configBytes, 'config.json'));
  const { shapes, optional } = tensorPlan(hf);
  const found = new Map<string, HfFolderInfo['tensors'][number]>();
  await forEachTensor(folder, shapes, async (shard, name) => {
    const e = shard.file.tensors.get(name)!;
    found.set(name, { name, dtype: e.dtype, shape: e.shape, numel: e.numel });
  });
  const tied = checkComplete(hf, (name) => found.has(name), optional, shapes);
  if (tied) found.delete('lm_head.weight');
  return { hf, tensors: [...found.values()], tied };
}

/** True when a list of file names looks like an HF model folder (for pickers and the CLI). */
export function looksLikeHfFolder(names: Iterable<string>): boolean {
  const set = new Set(names);
  return set.has('config.json') && (set.has('model.safetensors') || set.has(INDEX_FILE));
}
