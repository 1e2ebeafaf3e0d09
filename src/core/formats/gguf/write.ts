// GGUF writer: a generic serializer (version 3, little-endian, aligned data section) and the
// LlamaModel → GGUF export llama.cpp loads as a Llama model.
//
// Export formats and which tensors get which ggml type:
//   gguf-f32   every tensor F32 (lossless; re-reads to identical logits)
//   gguf-q8_0  2-D tensors (7 linears per block, token_embd, output) Q8_0; norms F32
//   gguf-q4_0  linears and token_embd Q4_0, output.weight Q8_0 (llama.cpp's quantize keeps the
//              classifier at higher precision — Q6_K there; we write Q8_0); norms F32
//   A 2-D tensor whose row length is not a multiple of 32 (stories260K's ffn_down, in = 172)
//   cannot be blocked and is written F16, as llama.cpp's quantize falls back.
//   A linear that is already ours q8/q4 symmetric, group 32, f16 scales, no g_idx, is copied
//   code for code into Q8_0/Q4_0 (the same values); other quantized tensors are dequantized first.
// q/k rows: GGUF wants the interleaved (llama2.c/Meta) row order (see llama.ts); a model in the HF
// rotate-half layout is permuted as convert_hf_to_gguf.py does (interleavedFromHalf).
import type { Tensor, UniformQuantTensor } from '../../tensor.ts';
import { NibbleError } from '../../errors.ts';
import { assertRunnable } from '../hf/runnable.ts';
import { f32Values } from '../../model/linear.ts';
import type { LayerWeights, LlamaModel } from '../../model/model.ts';
import { UNIFORM_BITS } from '../../quant/format.ts';
import { unpackRows } from '../../quant/packing.ts';
import { f16Array } from '../export/f16.ts';
import { interleavedFromHalf, permuteRows } from '../export/rope-permute.ts';
import { encodeQ4_0, encodeQ8_0, QK } from './blocks.ts';
import { LAYER_TENSORS } from './llama.ts';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgmlType,
  GgufValueType,
  ggmlBytes,
  type GgufArray,
  type GgufValue,
} from './types.ts';
import { vocabToGguf, type Vocab } from './vocab.ts';

export interface GgufKvEntry {
  key: string;
  type: GgufValueType;
  value: GgufValue; // u64/i64 as number or bigint; arrays as { elemType, values }
}

export interface GgufTensorEntry {
  name: string;
  ne: number[]; // ggml order: ne[0] is the row length
  type: GgmlType;
  data: Uint8Array; // exactly ggmlBytes(type, numel) bytes
}

const utf8 = new TextEncoder();

/** Serializes metadata and tensors as GGUF v3; tensor data aligned to `alignment`. */
export function serializeGguf(
  kvs: readonly GgufKvEntry[],
  tensors: readonly GgufTensorEntry[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Uint8Array {
  const head = new ByteSink();
  head.u32(GGUF_MAGIC).u32(3).u64(tensors.length).u64(kvs.length);
  for (const kv of kvs) {
    head.str(kv.key).u32(kv.type);
    writeValue(head, kv.type, kv.value);
  }
  const pad = (n: number) => Math.ceil(n / alignment) * alignment;
  const offsets: number[] = [];
  let end = 0; // data-section bytes up to the end of the last tensor
  for (const t of tensors) {
    const numel = t.ne.reduce((a, b) => a * b, 1);
    if (t.data.byteLength !== ggmlBytes(t.type, numel))
      throw new NibbleError(
        'bad-argument',
        `GGUF tensor '${t.name}': ${t.data.byteLength} bytes for type ${t.type} [${t.ne}]`,
      );
    const offset = pad(end);
    head.str(t.name).u32(t.ne.length);
    for (const n of t.ne) head.u64(n);
    head.u32(t.type).u64(offset);
    offsets.push(offset);
    end = offset + t.data.byteLength;
  }
  const dataStart = pad(head.length);
  // llama.cpp expects each tensor at the running padded sum, the last one padded too.
  const out = new Uint8Array(dataStart + pad(end));
  out.set(head.bytes(), 0);
  tensors.forEach((t, i) => out.set(t.data, dataStart + offsets[i]));
  return out;
}

function writeValue(s: ByteSink, type: GgufValueType, v: GgufValue): void {
  switch (type) {
    case GgufValueType.U8:
      s.fixed(1, (dv) => dv.setUint8(0, v as number));
      break;
    case GgufValueType.I8:
      s.fixed(1, (dv) => dv.setInt8(0, v as number));
      break;
    case GgufValueType.U16:
      s.fixed(2, (dv) => dv.setUint16(0, v as number, true));
      break;
    case GgufValueType.I16:
      s.fixed(2, (dv) => dv.setInt16(0, v as number, true));
      break;
    case GgufValueType.U32:
      s.u32(v as number);
      break;
    case GgufValueType.I32:
      s.fixed(4, (dv) => dv.setInt32(0, v as number, true));
      break;
    case GgufValueType.F32:
      s.fixed(4, (dv) => dv.setFloat32(0, v as number, true));
      break;
    case GgufValueType.F64:
      s.fixed(8, (dv) => dv.setFloat64(0, v as number, true));
      break;
    case GgufValueType.U64:
      s.u64(v as number | bigint);
      break;
    case GgufValueType.I64:
      s.fixed(8, (dv) => dv.setBigInt64(0, BigInt(v as number | bigint), true));
      break;
    case GgufValueType.BOOL:
      s.fixed(1, (dv) => dv.setUint8(0, v ? 1 : 0));
      break;
    case GgufValueType.STRING:
      s.str(v as string);
      break;
    case GgufValueType.ARRAY: {
      const a = v as GgufArray;
      s.u32(a.elemType).u64(a.values.length);
      const values = a.values as ArrayLike<GgufValue>;
      for (let i = 0; i < values.length; i++) writeValue(s, a.elemType, values[i]);
      break;
    }
    default:
      throw new NibbleError('bad-argument', `GGUF: unknown value type ${type as number}`);
  }
}

/** Growable little-endian byte buffer for the header part. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  private grow(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  fixed(n: number, put: (dv: DataView) => void): this {
    const at = this.grow(n);
    put(new DataView(this.buf.buffer, at, n));
    return this;
  }
  u32 = (v: number) => this.fixed(4, (dv) => dv.setUint32(0, v, true));
  u64 = (v: number | bigint) => this.fixed(8, (dv) => dv.setBigUint64(0, BigInt(v), true));
  str(s: string): this {
    const b = utf8.encode(s);
    this.u64(b.length);
    const at = this.grow(b.length); // grow() may replace this.buf: read it after
    this.buf.set(b, at);
    return this;
  }
  bytes = () => this.buf.subarray(0, this.length);
}

export type GgufExportFormat = 'gguf-f32' | 'gguf-q8_0' | 'gguf-q4_0';
export const GGUF_EXPORT_FORMATS: readonly GgufExportFormat[] = ['gguf-f32', 'gguf-q8_0', 'gguf-q4_0'];
const FILE_TYPE: Record<GgufExportFormat, number> = { 'gguf-f32': 0, 'gguf-q8_0': 7, 'gguf-q4_0': 2 }; // llama_ftype

type Role = 'norm' | 'embedding' | 'linear' | 'output';

function ggmlTypeFor(format: GgufExportFormat, role: Role, rowLen: number): GgmlType {
  if (role === 'norm' || format === 'gguf-f32') return GgmlType.F32;
  if (rowLen % QK !== 0) return GgmlType.F16;
  if (format === 'gguf-q8_0' || role === 'output') return GgmlType.Q8_0;
  return GgmlType.Q4_0;
}

/** Our q8/q4 sym group-32 f16-scale tensor as Q8_0/Q4_0 blocks, code for code; null if not that shape. */
function nativeBlocks(t: Tensor, type: GgmlType): Uint8Array | null {
  if (t.format !== 'q8' && t.format !== 'q4') return null;
  const u = t as UniformQuantTensor;
  const want = type === GgmlType.Q8_0 ? 'q8' : type === GgmlType.Q4_0 ? 'q4' : null;
  if (u.format !== want || !u.sym || u.group !== QK || u.scaleType !== 'f16' || u.buffers.gIdx || u.shape[1] % QK !== 0)
    return null;
  const [rows, cols] = u.shape;
  const codes = unpackRows(u.buffers.data, rows, cols, UNIFORM_BITS[u.format]);
  const scales = u.buffers.scales as Uint32Array; // fp16 pairs: scale i in word i >> 1, half i & 1
  const nb = (rows * cols) / QK;
  const size = type === GgmlType.Q8_0 ? 34 : 18;
  const out = new Uint8Array(nb * size);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    dv.setUint16(b * size, (scales[b >> 1] >>> (16 * (b & 1))) & 0xffff, true);
    const q = codes.subarray(b * QK, (b + 1) * QK);
    if (type === GgmlType.Q8_0) for (let j = 0; j < QK; j++) dv.setInt8(b * size + 2 + j, q[j] - 128);
    else for (let j = 0; j < 16; j++) out[b * size + 2 + j] = q[j] | (q[j + 16] << 4);
  }
  return out;
}

/** One model tensor as a GGUF tensor entry; `perm` reorders rows (q/k RoPE layout). */
function tensorEntry(
  name: string,
  t: Tensor,
  role: Role,
  format: GgufExportFormat,
  perm?: Int32Array,
): GgufTensorEntry {
  const shape = t.shape;
  const rows = shape.length === 2 ? shape[0] : 1;
  const rowLen = shape.at(-1)!;
  const type = ggmlTypeFor(format, role, rowLen);
  let data = nativeBlocks(t, type);
  if (!data) {
    const x = f32Values(t);
    if (type === GgmlType.F32) data = new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    else if (type === GgmlType.F16) data = new Uint8Array(f16Array(x).buffer);
    else data = type === GgmlType.Q8_0 ? encodeQ8_0(x) : encodeQ4_0(x);
  }
  if (perm) data = permuteRows(data, rows, perm); // rows are whole blocks: permuting bytes = permuting values
  return { name, ne: [...shape].reverse(), type, data };
}

/** Metadata llama.cpp needs to load a Llama, plus the tokenizer arrays. */
function llamaKvs(model: LlamaModel, vocab: Vocab, format: GgufExportFormat, name: string): GgufKvEntry[] {
  const c = model.config;
  const g = vocabToGguf(vocab);
  const { U32, F32, STRING, ARRAY, I32, BOOL } = GgufValueType;
  return [
    { key: 'general.architecture', type: STRING, value: 'llama' },
    { key: 'general.name', type: STRING, value: name },
    { key: 'general.file_type', type: U32, value: FILE_TYPE[format] },
    { key: 'general.quantization_version', type: U32, value: 2 },
    { key: 'general.alignment', type: U32, value: GGUF_DEFAULT_ALIGNMENT },
    { key: 'llama.vocab_size', type: U32, value: c.vocabSize },
    { key: 'llama.context_length', type: U32, value: c.seqLen },
    { key: 'llama.embedding_length', type: U32, value: c.dim },
    { key: 'llama.block_count', type: U32, value: c.nLayers },
    { key: 'llama.feed_forward_length', type: U32, value: c.hiddenDim },
    { key: 'llama.rope.dimension_count', type: U32, value: c.headSize },
    { key: 'llama.rope.freq_base', type: F32, value: c.ropeTheta },
    { key: 'llama.attention.head_count', type: U32, value: c.nHeads },
    { key: 'llama.attention.head_count_kv', type: U32, value: c.nKvHeads },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: F32, value: c.normEps },
    { key: 'tokenizer.ggml.model', type: STRING, value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: ARRAY, value: { elemType: STRING, values: g.tokens } },
    { key: 'tokenizer.ggml.scores', type: ARRAY, value: { elemType: F32, values: g.scores } },
    { key: 'tokenizer.ggml.token_type', type: ARRAY, value: { elemType: I32, values: g.types } },
    { key: 'tokenizer.ggml.unknown_token_id', type: U32, value: 0 },
    { key: 'tokenizer.ggml.bos_token_id', type: U32, value: g.bos },
    { key: 'tokenizer.ggml.eos_token_id', type: U32, value: g.eos },
    { key: 'tokenizer.ggml.add_bos_token', type: BOOL, value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: BOOL, value: false },
  ];
}

/** LlamaModel + vocabulary → a GGUF file llama.cpp runs as a Llama model. */
export function writeGgufModel(
  model: LlamaModel,
  vocab: Vocab,
  format: GgufExportFormat,
  opts: { name?: string } = {},
): Uint8Array {
  const c = model.config;
  if (!GGUF_EXPORT_FORMATS.includes(format))
    throw new NibbleError('bad-argument', `GGUF export format '${format}' (one of ${GGUF_EXPORT_FORMATS.join(', ')})`);
  if (model.weights.attnBias)
    throw new NibbleError(
      'unsupported',
      'GGUF export: attention biases (Qwen2-style) are not written; only plain Llama models',
    );
  assertRunnable(model, 'GGUF export');
  if (vocab.pieces.length !== c.vocabSize)
    throw new NibbleError(
      'tokenizer-mismatch',
      `tokenizer has ${vocab.pieces.length} tokens, the model ${c.vocabSize}`,
    );
  const w = model.weights;
  const qPerm = c.ropeStyle === 'half' ? interleavedFromHalf(c.nHeads * c.headSize, c.nHeads) : undefined;
  const kPerm = c.ropeStyle === 'half' ? interleavedFromHalf(c.nKvHeads * c.headSize, c.nKvHeads) : undefined;
  const roles: Record<keyof LayerWeights, Role> = {
    rmsAtt: 'norm',
    rmsFfn: 'norm',
    wq: 'linear',
    wk: 'linear',
    wv: 'linear',
    wo: 'linear',
    w1: 'linear',
    w2: 'linear',
    w3: 'linear',
  };
  const tensors: GgufTensorEntry[] = [
    tensorEntry('token_embd.weight', w.tokEmb, 'embedding', format),
    tensorEntry('output_norm.weight', w.rmsFinal, 'norm', format),
  ];
  if (!c.sharedClassifier) tensors.push(tensorEntry('output.weight', w.wcls, 'output', format));
  w.layers.forEach((lw, l) => {
    for (const [k, n] of Object.entries(LAYER_TENSORS) as [keyof LayerWeights, string][]) {
      tensors.push(
        tensorEntry(
          `blk.${l}.${n}.weight`,
          lw[k],
          roles[k],
          format,
          k === 'wq' ? qPerm : k === 'wk' ? kPerm : undefined,
        ),
      );
    }
  });
  return serializeGguf(llamaKvs(model, vocab, format, opts.name ?? 'nibble export'), tensors);
}
