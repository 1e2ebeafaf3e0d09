// GGUF → LlamaModel + Tokenizer. general.architecture must be "llama"; hyper-parameters come from
// the llama.* keys, the tokenizer from tokenizer.ggml.* (model "llama" = SentencePiece/llama2.c
// style), weights from the blk.N.* tensors, dequantized to f32 (or, with weights: 'native', Q8_0/Q4_0
// linears kept as our q8/q4 tensors code for code: native.ts).
//
// RoPE: llama.cpp's converters permute q/k rows (convert_hf_to_gguf.py `permute`) so that
// llama.cpp's LLAMA rope (mode 0, "NORM") rotates adjacent pairs (x[2i], x[2i+1]) — the llama2.c /
// Meta layout. HF checkpoints store the rotate-half layout; the converter's permute is exactly the
// inverse of HF's. So GGUF q/k rows ARE in the interleaved layout: undoing llama.cpp's permutation
// and running rotate-half is the same computation as keeping the rows and running ropeStyle
// 'interleaved', which is what we do (checked by logits against stories260K.bin, bit for bit).
//
// Tensor map (ggml ne = [in, out] for linears; ours [out, in]):
//   token_embd.weight → tokEmb (vocab, dim)     output_norm.weight → rmsFinal (dim)
//   output.weight → wcls (absent: shared with tokEmb)
//   blk.N.attn_norm / attn_q / attn_k / attn_v / attn_output / ffn_norm / ffn_gate / ffn_down / ffn_up
//     → rmsAtt / wq / wk / wv / wo / rmsFfn / w1 / w2 / w3
import { isNormEps, MODEL_BOUNDS } from '../bounds.ts';
import { requireFiniteWeights } from '../finite.ts';
import { NibbleError } from '../../errors.ts';
import type { RangeReader } from '../safetensors.ts';
import type { LayerWeights, LlamaConfig, LlamaModel } from '../../model/model.ts';
import { f32Tensor, type Tensor } from '../../tensor.ts';
import { f16TensorFromF16Bytes } from '../f16-tensor.ts';
import { Tokenizer, BOS, EOS } from '../../tokenizers/llama2c-tokenizer.ts';
import { dequantize } from './blocks.ts';
import { nativeTensor } from './native.ts';
import { parseGguf, type GgufHeader } from './read.ts';
import { GgmlType, GgufValueType, type GgufArray, type GgufFile, type GgufTensorInfo } from './types.ts';
import { llama2cTokenizerBytes, vocabFromGguf, type Vocab } from './vocab.ts';

export interface GgufLoadOptions {
  /** Context length (KV cache) to use instead of llama.context_length (llama.cpp's -c). */
  contextLength?: number;
  /** Picks the context from the file's own (llama.context_length); may throw. Wins over contextLength. */
  chooseContext?: (own: number) => number;
  /** 'f32' (default): every tensor dequantized. 'native': Q8_0/Q4_0 linears become our q8/q4
   *  symmetric group-32 tensors code for code (native.ts); other types are dequantized. */
  weights?: 'f32' | 'native';
}

export interface LoadedGguf {
  model: LlamaModel;
  tokenizer: Tokenizer;
  /** The same vocabulary as a llama2.c tokenizer.bin (what .nibble files embed). */
  tokenizerBytes: Uint8Array;
  vocab: Vocab;
  file: GgufFile;
}

export const LAYER_TENSORS: Readonly<Record<keyof LayerWeights, string>> = {
  rmsAtt: 'attn_norm',
  wq: 'attn_q',
  wk: 'attn_k',
  wv: 'attn_v',
  wo: 'attn_output',
  rmsFfn: 'ffn_norm',
  w1: 'ffn_gate',
  w2: 'ffn_down',
  w3: 'ffn_up',
};

const MAX_DIM = 1 << 16;
const MAX_LAYERS = 1024;
const MAX_HEADS = 1024;
const MAX_CONTEXT = MODEL_BOUNDS.context; // one bound for every format (bounds.ts)
const INT_TYPES = new Set<number>([
  GgufValueType.U8,
  GgufValueType.I8,
  GgufValueType.U16,
  GgufValueType.I16,
  GgufValueType.U32,
  GgufValueType.I32,
  GgufValueType.U64,
  GgufValueType.I64,
]);

const bad = (msg: string) => new NibbleError('bad-format', `GGUF: ${msg}`);
const dims = (msg: string) => new NibbleError('bad-dims', `GGUF: ${msg}`);

/** Typed metadata access with the messages a user can act on. */
class Meta {
  constructor(private readonly file: Pick<GgufFile, 'kv'>) {}
  has = (key: string) => this.file.kv.has(key);
  string(key: string): string {
    const v = this.file.kv.get(key);
    if (!v) throw bad(`metadata '${key}' is missing`);
    if (v.type !== GgufValueType.STRING) throw bad(`metadata '${key}' must be a string`);
    return v.value as string;
  }
  int(key: string, lo: number, hi: number, fallback?: number): number {
    const v = this.file.kv.get(key);
    if (!v) {
      if (fallback === undefined) throw bad(`metadata '${key}' is missing`);
      return fallback;
    }
    if (!INT_TYPES.has(v.type)) throw bad(`metadata '${key}' must be an integer (value type ${v.type})`);
    const n = Number(v.value as number | bigint);
    if (!Number.isSafeInteger(n) || n < lo || n > hi)
      throw dims(`metadata '${key}' = ${String(v.value)} is outside ${lo}..${hi}`);
    return n;
  }
  float(key: string, fallback: number, lo: number, hi: number): number {
    const v = this.file.kv.get(key);
    if (!v) return fallback;
    if (v.type !== GgufValueType.F32 && v.type !== GgufValueType.F64) throw bad(`metadata '${key}' must be a float`);
    const x = v.value as number;
    if (!(x >= lo && x <= hi)) throw dims(`metadata '${key}' = ${x} is outside ${lo}..${hi}`);
    return x;
  }
  array(key: string, elemType: GgufValueType): GgufArray | undefined {
    const v = this.file.kv.get(key);
    if (!v) return undefined;
    if (v.type !== GgufValueType.ARRAY || (v.value as GgufArray).elemType !== elemType)
      throw bad(`metadata '${key}' must be an array of value type ${elemType}`);
    return v.value as GgufArray;
  }
}

/** layer_norm_rms_epsilon in (0, 1), as every other format requires (bounds.ts). */
function normEpsOf(meta: Meta): number {
  const eps = meta.float('llama.attention.layer_norm_rms_epsilon', 1e-5, 0, 1);
  if (!isNormEps(eps)) throw dims(`metadata 'llama.attention.layer_norm_rms_epsilon' = ${eps} is outside (0, 1)`);
  return eps;
}

function configOf(meta: Meta, vocabSize: number, opts: GgufLoadOptions): { config: LlamaConfig; own: number | null } {
  if (vocabSize > MODEL_BOUNDS.vocab)
    throw dims(`token_embd.weight has ${vocabSize} rows, more than ${MODEL_BOUNDS.vocab} tokens`);
  const arch = meta.string('general.architecture');
  if (arch !== 'llama')
    throw new NibbleError('unsupported', `GGUF: architecture '${arch}' is not supported (only 'llama')`);
  const dim = meta.int('llama.embedding_length', 1, MAX_DIM);
  const nHeads = meta.int('llama.attention.head_count', 1, MAX_HEADS);
  const nKvHeads = meta.int('llama.attention.head_count_kv', 1, nHeads, nHeads);
  if (dim % nHeads !== 0) throw dims(`embedding_length ${dim} is not a multiple of head_count ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw dims(`head_count ${nHeads} is not a multiple of head_count_kv ${nKvHeads}`);
  const headSize = dim / nHeads;
  if (headSize % 2 !== 0) throw dims(`head size ${headSize} must be even for RoPE`);
  const ropeDims = meta.int('llama.rope.dimension_count', 1, MAX_DIM, headSize);
  if (ropeDims !== headSize)
    throw new NibbleError(
      'unsupported',
      `GGUF: partial rotary embeddings (rope.dimension_count ${ropeDims} < head size ${headSize}) are not supported`,
    );
  // With contextLength given (and no chooser) the file's own context is not needed, nor read.
  const own =
    opts.chooseContext || opts.contextLength === undefined ? meta.int('llama.context_length', 1, MAX_CONTEXT) : null;
  const seqLen = opts.chooseContext ? opts.chooseContext(own!) : (opts.contextLength ?? own!);
  if (!Number.isInteger(seqLen) || seqLen < 1 || seqLen > MAX_CONTEXT)
    throw new NibbleError('bad-argument', `context length ${seqLen} is outside 1..${MAX_CONTEXT}`);
  return {
    own,
    config: {
      dim,
      hiddenDim: meta.int('llama.feed_forward_length', 1, 8 * MAX_DIM),
      nLayers: meta.int('llama.block_count', 1, MAX_LAYERS),
      nHeads,
      nKvHeads,
      vocabSize,
      seqLen,
      headSize,
      normEps: normEpsOf(meta),
      ropeTheta: meta.float('llama.rope.freq_base', 10000, 1, 1e12),
      ropeStyle: 'interleaved',
      sharedClassifier: false,
    },
  };
}

/** A tensor's values as f32, whatever its ggml type. */
export function ggufTensorF32(file: GgufFile, t: GgufTensorInfo): Float32Array {
  const start = file.dataStart + t.offset;
  return dequantize(t.type, file.bytes.subarray(start, start + t.bytes), t.numel);
}

function vocabOf(meta: Meta, vocabSize: number): Vocab {
  const model = meta.string('tokenizer.ggml.model');
  if (model !== 'llama')
    throw new NibbleError(
      'unsupported',
      `GGUF: tokenizer model '${model}' is not supported (only 'llama', SentencePiece)`,
    );
  const tokens = meta.array('tokenizer.ggml.tokens', GgufValueType.STRING);
  if (!tokens) throw bad(`metadata 'tokenizer.ggml.tokens' is missing`);
  if (tokens.values.length !== vocabSize) {
    throw new NibbleError(
      'tokenizer-mismatch',
      `GGUF: tokenizer.ggml.tokens has ${tokens.values.length} tokens, token_embd.weight has ${vocabSize} rows`,
    );
  }
  const scores = meta.array('tokenizer.ggml.scores', GgufValueType.F32)?.values as Float32Array | undefined;
  const types = meta.array('tokenizer.ggml.token_type', GgufValueType.I32)?.values as Int32Array | undefined;
  if ((scores && scores.length !== vocabSize) || (types && types.length !== vocabSize)) {
    throw new NibbleError(
      'tokenizer-mismatch',
      `GGUF: tokenizer scores/token_type lengths differ from the ${vocabSize} tokens`,
    );
  }
  const bos = meta.int('tokenizer.ggml.bos_token_id', 0, 0xffffffff, BOS);
  const eos = meta.int('tokenizer.ggml.eos_token_id', 0, 0xffffffff, EOS);
  if (bos !== BOS || eos !== EOS)
    throw new NibbleError(
      'unsupported',
      `GGUF: BOS/EOS ids ${bos}/${eos}; the llama tokenizer here uses ${BOS}/${EOS}`,
    );
  if (vocabSize < 3)
    throw new NibbleError('tokenizer-mismatch', `GGUF: a vocabulary of ${vocabSize} tokens has no BOS/EOS`);
  return vocabFromGguf({
    tokens: tokens.values as string[],
    scores: scores ?? new Float32Array(vocabSize),
    types: types ?? new Int32Array(vocabSize).fill(1),
    bos,
    eos,
  });
}

/** One tensor a load reads: its info, our shape ([out, in] row-major) and our name (memory plans). */
export interface GgufPlanTensor {
  id: string; // 'tok_emb', 'rms_final', 'l3.wq', …, 'wcls'
  info: GgufTensorInfo;
  shape: number[];
  linear: boolean; // a block linear: 'native' loads may keep it quantized
}

/** Everything a load needs, checked from the header alone (no tensor data read). */
export interface GgufPlan {
  config: LlamaConfig; // seqLen = the context the load will use
  ownContext: number; // llama.context_length (seqLen when a contextLength was given instead)
  vocab: Vocab;
  tensors: GgufPlanTensor[]; // token_embd first; output.weight excluded (see `output`)
  /** output.weight when present: shared with the embedding when its bytes are the same (decided on load). */
  output: GgufPlanTensor | null;
}

/** Validates the header (config, vocabulary, every tensor's presence and shape) before any data is read. */
export function planGguf(file: Pick<GgufFile, 'kv' | 'tensors'>, opts: GgufLoadOptions = {}): GgufPlan {
  const meta = new Meta(file);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const emb = byName.get('token_embd.weight');
  if (!emb) throw bad(`tensor 'token_embd.weight' is missing`);
  if (emb.ne.length !== 2) throw dims(`token_embd.weight has shape [${emb.ne}], expected [dim, vocab]`);
  const { config, own } = configOf(meta, emb.ne[1], opts);
  const ownContext = own ?? config.seqLen;
  const vocab = vocabOf(meta, config.vocabSize);

  // shape: ours, row-major ([out, in]); GGUF ne is the reverse.
  const want = (id: string, name: string, shape: number[], linear = false): GgufPlanTensor => {
    const t = byName.get(name);
    if (!t) throw bad(`tensor '${name}' is missing`);
    const ne = [...shape].reverse();
    if (t.ne.length !== ne.length || t.ne.some((n, i) => n !== ne[i]))
      throw dims(`tensor '${name}' has ne [${t.ne}], the config needs [${ne}]`);
    return { id, info: t, shape, linear };
  };
  const c = config;
  const qd = c.nHeads * c.headSize;
  const kvd = c.nKvHeads * c.headSize;
  const shapes: Record<keyof LayerWeights, number[]> = {
    rmsAtt: [c.dim],
    wq: [qd, c.dim],
    wk: [kvd, c.dim],
    wv: [kvd, c.dim],
    wo: [c.dim, qd],
    rmsFfn: [c.dim],
    w1: [c.hiddenDim, c.dim],
    w2: [c.dim, c.hiddenDim],
    w3: [c.hiddenDim, c.dim],
  };
  const tensors = [want('tok_emb', 'token_embd.weight', [c.vocabSize, c.dim])];
  for (let l = 0; l < c.nLayers; l++) {
    for (const [k, n] of Object.entries(LAYER_TENSORS) as [keyof LayerWeights, string][]) {
      tensors.push(want(`l${l}.${k}`, `blk.${l}.${n}.weight`, shapes[k], shapes[k].length === 2));
    }
  }
  tensors.push(want('rms_final', 'output_norm.weight', [c.dim]));
  const output = byName.has('output.weight') ? want('wcls', 'output.weight', [c.vocabSize, c.dim]) : null;
  // Counts that disagree with the tensors present are errors, not a silently shorter model.
  for (const name of byName.keys()) {
    const l = /^blk\.(\d+)\./.exec(name);
    if (l && Number(l[1]) >= c.nLayers)
      throw dims(`tensor '${name}' is present but llama.block_count is ${c.nLayers}: the header's counts disagree`);
  }
  if (meta.has('llama.vocab_size')) {
    const declared = meta.int('llama.vocab_size', 1, MODEL_BOUNDS.vocab);
    if (declared !== c.vocabSize)
      throw dims(`llama.vocab_size is ${declared} but token_embd.weight has ${c.vocabSize} rows`);
  }
  return { config, ownContext, vocab, tensors, output };
}

/** A planned tensor from its raw bytes (t.bytes of them): f32, or with 'native' a q8/q4 linear. */
function decode(
  file: Pick<GgufFile, 'kv' | 'tensors' | 'version' | 'alignment'>,
  p: GgufPlanTensor,
  raw: Uint8Array,
  opts: GgufLoadOptions,
): Tensor {
  const native =
    p.linear && opts.weights === 'native'
      ? nativeTensor({ ...file, bytes: raw, dataStart: 0 }, { ...p.info, offset: 0 }, p.shape as [number, number])
      : null;
  if (opts.weights === 'native' && p.info.type === GgmlType.F16 && p.shape.length === 2)
    return f16TensorFromF16Bytes(p.shape, raw, 0); // F16 matrices stay 16-bit, code for code
  return native ?? f32Tensor(p.shape, dequantize(p.info.type, raw, p.info.numel));
}

/** The output projection is the embedding again (llama2c-converted files): keep one copy. */
const sameAsEmbedding = (out: GgufPlanTensor, emb: GgufPlanTensor, outRaw: Uint8Array, embRaw: Uint8Array): boolean =>
  out.info.type === emb.info.type && out.info.bytes === emb.info.bytes && equalBytes(outRaw, embRaw);

function assemble(plan: GgufPlan, t: Map<string, Tensor>, wcls: Tensor | null): LlamaModel {
  const tokEmb = t.get('tok_emb')!;
  const layers = Array.from(
    { length: plan.config.nLayers },
    (_, l) =>
      Object.fromEntries(Object.keys(LAYER_TENSORS).map((k) => [k, t.get(`l${l}.${k}`)!])) as unknown as LayerWeights,
  );
  return {
    config: { ...plan.config, sharedClassifier: !wcls },
    weights: { tokEmb, layers, rmsFinal: t.get('rms_final')!, wcls: wcls ?? tokEmb },
  };
}

const result = (plan: GgufPlan, model: LlamaModel) => ({
  model: (requireFiniteWeights(model, 'GGUF'), model),
  tokenizer: Tokenizer.fromVocab(plan.vocab.pieces, plan.vocab.scores),
  tokenizerBytes: llama2cTokenizerBytes(plan.vocab),
  vocab: plan.vocab,
});

/** Loads a llama GGUF: every tensor the model needs must be present with its exact shape. */
export function loadGguf(bytes: Uint8Array, opts: GgufLoadOptions = {}): LoadedGguf {
  const file = parseGguf(bytes);
  const plan = planGguf(file, opts);
  const raw = (p: GgufPlanTensor) =>
    bytes.subarray(file.dataStart + p.info.offset, file.dataStart + p.info.offset + p.info.bytes);
  const t = new Map(plan.tensors.map((p) => [p.id, decode(file, p, raw(p), opts)]));
  const out = plan.output;
  const shared = !out || sameAsEmbedding(out, plan.tensors[0], raw(out), raw(plan.tensors[0]));
  return { ...result(plan, assemble(plan, t, shared ? null : decode(file, out, raw(out), opts))), file };
}

/** A GGUF file read by ranges: the loaded model plus the header it was read from. */
export interface LoadedGgufHeader extends Omit<LoadedGguf, 'file'> {
  file: GgufHeader;
}

/**
 * loadGguf over a RangeReader, from a header readGgufHeader returned: each tensor's bytes are
 * read (and converted) one at a time, so the file is never in memory whole.
 */
export async function loadGgufRanged(
  header: GgufHeader,
  reader: RangeReader,
  opts: GgufLoadOptions = {},
): Promise<LoadedGgufHeader> {
  const plan = planGguf(header, opts);
  const read = async (p: GgufPlanTensor) => {
    const b = await reader.read(header.dataStart + p.info.offset, p.info.bytes);
    if (b.byteLength !== p.info.bytes)
      throw new NibbleError(
        'truncated',
        `GGUF: read ${b.byteLength} bytes of tensor '${p.info.name}', expected ${p.info.bytes}`,
      );
    return b;
  };
  const t = new Map<string, Tensor>();
  const emb = plan.tensors[0];
  const out = plan.output;
  let embRaw: Uint8Array | null = null; // kept only until output.weight is compared with it
  for (const p of plan.tensors) {
    const raw = await read(p);
    if (p === emb && out && out.info.type === emb.info.type && out.info.bytes === emb.info.bytes) embRaw = raw;
    t.set(p.id, decode(header, p, raw, opts));
  }
  let wcls: Tensor | null = null;
  if (out) {
    const raw = await read(out);
    if (!(embRaw && sameAsEmbedding(out, emb, raw, embRaw))) wcls = decode(header, out, raw, opts);
  }
  return { ...result(plan, assemble(plan, t, wcls)), file: header };
}

function equalBytes(x: Uint8Array, y: Uint8Array): boolean {
  if (x.byteLength !== y.byteLength) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
