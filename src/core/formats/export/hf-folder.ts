// Any LlamaModel + its tokenizer → a Hugging Face folder transformers (and core/hf/load.ts) loads:
//   config.json              LlamaForCausalLM, or Qwen2ForCausalLM when the model has q/k/v
//                            attention biases; sizes, max_position_embeddings = config.seqLen,
//                            rms_norm_eps, rope_theta, tie_word_embeddings, torch_dtype, BOS/EOS
//                            ids, and `nibble_source` (where it came from; fake_quant, below)
//   generation_config.json   BOS/EOS ids (a list when the tokenizer stops on several)
//   model.safetensors        every tensor in `dtype` under the names hf/load.ts reads:
//     model.embed_tokens.weight (V, dim)  model.norm.weight (dim)  lm_head.weight (V, dim) only when untied
//     model.layers.N.{input_layernorm,post_attention_layernorm}.weight (dim)
//     model.layers.N.self_attn.{q,k,v,o}_proj.weight   [out, in] like ours
//     model.layers.N.self_attn.{q,k,v}_proj.bias       Qwen2 only
//     model.layers.N.mlp.{gate,up,down}_proj.weight    = our w1, w3, w2
//   tokenizer.json + tokenizer_config.json   a llama2.c tokenizer converted (hf-tokenizer-json.ts),
//                            or an HF tokenizer's own files copied, with chat_template.jinja when
//                            its options carry one (TokenizerFiles in core/tokenizer-files.ts)
// RoPE: HF Llama/Qwen2 rotate half (pair i of a head = rows i, i + hs/2). A model in the
// interleaved layout (llama2.c, GGUF: pairs 2i, 2i + 1) has its q/k rows — and q/k biases —
// permuted interleaved → half, as transformers' convert_llama_weights_to_hf.py does
// (rope-permute.ts halfFromInterleaved); a model already 'half' is written as it is.
// Quantized tensors are dequantized (f32Values → quant/quantize-tensor.ts dequantizeTensor)
// and stored in `dtype`: a "fake-quant" checkpoint that computes what the variant computes, at
// float size; config.json says so (nibble_source.fake_quant, .quantized_formats).
// Validation: the config is re-read with the loader's own parser (core/hf/config.ts) and must
// give back the model's config; every tensor's shape is checked against it; the tokenizer must
// fit the vocabulary, and a converted tokenizer.json must load (core/hf-tokenizer.ts).
import type { Tensor } from '../../tensor.ts';
import { NibbleError } from '../../errors.ts';
import { hfConfigFromJson } from '../hf/config.ts';
import { assertRunnable } from '../hf/runnable.ts';
import { HfTokenizer } from '../../tokenizers/hf-tokenizer.ts';
import { f32Values } from '../../model/linear.ts';
import type { LlamaConfig, LlamaModel } from '../../model/model.ts';
import { tokenizerFromFiles, type TokenizerFiles } from '../../tokenizers/tokenizer-files.ts';
import { BOS, EOS } from '../../tokenizers/llama2c-tokenizer.ts';
import { f16Array } from './f16.ts';
import { llama2cTokenizerJson } from './hf-tokenizer-json.ts';
import { halfFromInterleaved, permuteRows } from './rope-permute.ts';
import { writeSafetensors, type SafetensorsEntry } from './safetensors-write.ts';

export type HfExportDtype = 'F32' | 'F16' | 'BF16';

export interface HfExportOptions {
  dtype?: HfExportDtype; // default F32 (lossless for an f32 model, exact dequantized values for a variant)
  name?: string; // recorded in config.json nibble_source.name
}

export interface HfFolderFile {
  name: string; // the file name transformers looks for
  mime: string;
  bytes: Uint8Array;
}

const TORCH_DTYPE: Record<HfExportDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const JSON_MIME = 'application/json';

/** bf16 codes of f32 values: round to nearest, ties to even; NaN stays a quiet NaN (hf/half.ts f32ToBf16Bits, in bulk). */
export function bf16Array(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const u = bits[i];
    out[i] =
      (u & 0x7fffffff) > 0x7f800000 ? ((u >>> 16) | 0x40) & 0xffff : ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

function encode(x: Float32Array, dtype: HfExportDtype): ArrayBufferView {
  if (dtype === 'F16') return f16Array(x);
  if (dtype === 'BF16') return bf16Array(x);
  return x;
}

/** One tensor entry: shape checked against `want`, rows permuted by `perm` (new row r = old row perm[r]). */
function entry(name: string, t: Tensor, want: number[], dtype: HfExportDtype, perm?: Int32Array): SafetensorsEntry {
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    throw new NibbleError('bad-dims', `HF export: ${name} has shape [${t.shape}], the config implies [${want}]`);
  }
  let x = f32Values(t);
  if (perm) x = permuteRows(x, want[0], perm);
  return { name, dtype, shape: want, data: encode(x, dtype) };
}

/** BOS and EOS ids for config.json / generation_config.json, from the tokenizer the files describe. */
function specialIds(files: TokenizerFiles, vocabSize: number): { bos: number | null; eos: number[] } {
  const tok = tokenizerFromFiles(files, vocabSize); // also checks it fits the model's vocabulary
  if (files.kind === 'llama2c') return { bos: BOS, eos: [EOS] }; // run.c's stopIds include BOS; EOS is 2
  return { bos: tok.bosId, eos: [...tok.stopIds] };
}

const idField = (ids: number[]): number | number[] | null =>
  ids.length === 0 ? null : ids.length === 1 ? ids[0] : ids;
const jsonFile = (name: string, v: unknown): HfFolderFile => ({
  name,
  mime: JSON_MIME,
  bytes: new TextEncoder().encode(`${JSON.stringify(v, null, 2)}\n`),
});

/** The tokenizer files of the folder. */
function tokenizerFiles(files: TokenizerFiles, c: LlamaConfig): HfFolderFile[] {
  if (files.kind === 'hf') {
    const out: HfFolderFile[] = [{ name: 'tokenizer.json', mime: JSON_MIME, bytes: files.json.slice() }];
    if (files.config) out.push({ name: 'tokenizer_config.json', mime: JSON_MIME, bytes: files.config.slice() });
    if (files.options?.chatTemplate !== undefined)
      out.push({
        name: 'chat_template.jinja',
        mime: 'text/plain',
        bytes: new TextEncoder().encode(files.options.chatTemplate),
      });
    return out;
  }
  const t = llama2cTokenizerJson(files.bytes, c.vocabSize, c.seqLen);
  const out = [jsonFile('tokenizer.json', t.tokenizerJson), jsonFile('tokenizer_config.json', t.tokenizerConfig)];
  const loaded = HfTokenizer.fromFiles(out[0].bytes, out[1].bytes); // what the loader will do with them
  if (loaded.vocabSize !== c.vocabSize)
    throw new NibbleError(
      'tokenizer-mismatch',
      `HF export: the converted tokenizer.json has ${loaded.vocabSize} tokens, the model ${c.vocabSize}`,
    );
  return out;
}

/** config.json; re-read with the loader's parser, which must give back the model's config. */
function configJson(
  model: LlamaModel,
  dtype: HfExportDtype,
  ids: { bos: number | null; eos: number[] },
  name: string | undefined,
): Record<string, unknown> {
  const c = model.config;
  const qwen2 = (model.weights.attnBias?.length ?? 0) > 0; // as hf/runnable.ts modelFeatures
  const quantized = new Set<string>();
  const note = (t: Tensor) => void (t.format !== 'f32' && t.format !== 'f16' && quantized.add(t.format));
  model.weights.layers.forEach((lw) => Object.values(lw).forEach(note));
  [model.weights.tokEmb, model.weights.rmsFinal, model.weights.wcls].forEach(note);
  const json: Record<string, unknown> = {
    architectures: [qwen2 ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen2 ? 'qwen2' : 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headSize,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.seqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    hidden_act: 'silu',
    tie_word_embeddings: c.sharedClassifier,
    ...(qwen2 ? { use_sliding_window: false } : { attention_bias: false, mlp_bias: false }),
    bos_token_id: ids.bos,
    eos_token_id: idField(ids.eos),
    torch_dtype: TORCH_DTYPE[dtype],
    nibble_source: {
      ...(name !== undefined ? { name } : {}),
      rope: c.ropeStyle === 'interleaved' ? 'q/k rows permuted interleaved → rotate-half' : 'rotate-half as loaded',
      fake_quant: quantized.size > 0,
      ...(quantized.size > 0
        ? {
            quantized_formats: [...quantized].sort(),
            note: "quantized weights stored dequantized (fake-quant): the variant's values at float size",
          }
        : {}),
    },
  };
  const back = hfConfigFromJson(json);
  const want: LlamaConfig = { ...c, ropeStyle: 'half' };
  for (const k of Object.keys(want) as (keyof LlamaConfig)[]) {
    if (back.config[k] !== want[k])
      throw new NibbleError(
        'unsupported',
        `HF export: config.json would load ${k} = ${String(back.config[k])}, the model has ${String(want[k])}`,
      );
  }
  return json;
}

/**
 * The files of an HF folder for `model` (see the header); `tokenizer` is the model's own.
 * Quantized weights are written dequantized ("fake-quant"). Throws NibbleError ('bad-dims',
 * 'unsupported', 'tokenizer-mismatch', …) rather than writing a folder that would not load.
 */
export function exportHfFolder(
  model: LlamaModel,
  tokenizer: TokenizerFiles,
  opts: HfExportOptions = {},
): HfFolderFile[] {
  const c = model.config;
  const w = model.weights;
  const dtype = opts.dtype ?? 'F32';
  assertRunnable(model, 'HF export', { attentionBias: true }); // Qwen3 norms, RoPE scaling, head_dim: not written yet
  if (w.layers.length !== c.nLayers)
    throw new NibbleError('bad-dims', `HF export: ${w.layers.length} layers, the config says ${c.nLayers}`);
  if (w.attnBias?.length && w.attnBias.length !== c.nLayers)
    throw new NibbleError('bad-dims', `HF export: attention biases for ${w.attnBias.length} of ${c.nLayers} layers`);
  const ids = specialIds(tokenizer, c.vocabSize);
  const config = configJson(model, dtype, ids, opts.name);
  const tokFiles = tokenizerFiles(tokenizer, c);

  const { dim, hiddenDim: hd, vocabSize: V } = c;
  const qd = c.nHeads * c.headSize;
  const kvd = c.nKvHeads * c.headSize;
  const interleaved = c.ropeStyle === 'interleaved';
  const qPerm = interleaved ? halfFromInterleaved(qd, c.nHeads) : undefined;
  const kPerm = interleaved ? halfFromInterleaved(kvd, c.nKvHeads) : undefined;
  const entries: SafetensorsEntry[] = [entry('model.embed_tokens.weight', w.tokEmb, [V, dim], dtype)];
  w.layers.forEach((lw, l) => {
    const p = `model.layers.${l}`;
    entries.push(
      entry(`${p}.input_layernorm.weight`, lw.rmsAtt, [dim], dtype),
      entry(`${p}.self_attn.q_proj.weight`, lw.wq, [qd, dim], dtype, qPerm),
      entry(`${p}.self_attn.k_proj.weight`, lw.wk, [kvd, dim], dtype, kPerm),
      entry(`${p}.self_attn.v_proj.weight`, lw.wv, [kvd, dim], dtype),
      entry(`${p}.self_attn.o_proj.weight`, lw.wo, [dim, qd], dtype),
      entry(`${p}.post_attention_layernorm.weight`, lw.rmsFfn, [dim], dtype),
      entry(`${p}.mlp.gate_proj.weight`, lw.w1, [hd, dim], dtype),
      entry(`${p}.mlp.up_proj.weight`, lw.w3, [hd, dim], dtype),
      entry(`${p}.mlp.down_proj.weight`, lw.w2, [dim, hd], dtype),
    );
    const b = w.attnBias?.[l];
    if (b) {
      entries.push(
        entry(`${p}.self_attn.q_proj.bias`, b.bq, [qd], dtype, qPerm),
        entry(`${p}.self_attn.k_proj.bias`, b.bk, [kvd], dtype, kPerm),
        entry(`${p}.self_attn.v_proj.bias`, b.bv, [kvd], dtype),
      );
    }
  });
  entries.push(entry('model.norm.weight', w.rmsFinal, [dim], dtype));
  if (!c.sharedClassifier) entries.push(entry('lm_head.weight', w.wcls, [V, dim], dtype));

  const generation = { _from_model_config: true, bos_token_id: ids.bos, eos_token_id: idField(ids.eos) };
  return [
    jsonFile('config.json', config),
    jsonFile('generation_config.json', generation),
    { name: 'model.safetensors', mime: 'application/octet-stream', bytes: writeSafetensors(entries, { format: 'pt' }) },
    ...tokFiles,
  ];
}
