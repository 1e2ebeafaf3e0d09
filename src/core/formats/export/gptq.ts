// GPTQ checkpoint export in the AutoGPTQ "gptq" (v1) layout, for uniform-int variants (GPTQ or
// RTN; bits 2, 3, 4, 8 — 5–7-bit variants live in 8-bit containers and are written as 8 bits).
//
// Per linear W [out = N, in = K], HF name model.layers.L.{self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj}:
//   qweight int32 [⌈K·bits/32⌉, N]  code q[i, o] = bits (i·bits .. i·bits + bits − 1) of column o's
//                                    little-endian bit stream (low bits first; for 3 bits a code
//                                    may straddle two words, exactly AutoGPTQ's pack)
//   qzeros  int32 [G, ⌈N·bits/32⌉]   (zero − 1) in the same stream order along the output dim
//   scales  fp16  [G, N]             our f32 scales rounded to nearest-even fp16
//   g_idx   int32 [K]                group of each input (act-order keeps ours; else ⌊i / group⌋)
//   W[o, i] = scales[g, o] · (q[i, o] − (z[g, o] + 1)),  g = g_idx[i]
// Zero point 0 (an asymmetric group whose minimum is ≥ −scale/2): v1 stores zero − 1, so the
//   effective zero z + 1 is 1..2^bits and 0 has no code (AutoGPTQ's own pack corrupts the word).
//   We store such a group reflected, exactly: scale' = −scale, q' = maxq − q, zero' = maxq
//   (stored maxq − 1), since −scale · ((maxq − q) − maxq) = scale · q bit for bit.
// Limits (NibbleError 'unsupported' rather than a wrong file): every linear must share bits, and
//   its group count must equal ⌈K / group_size⌉.
// When K·bits or N·bits is not a multiple of 32 (stories260K's 172), the packed dim is padded
// to whole int32 words with zero bits; the formula is unaffected, but AutoGPTQ's CUDA kernels
// want in/out features divisible by 32, so such files are for the reference (torch) path.
// RoPE: HF checkpoints use rotate-half q/k rows. A model in the interleaved layout (llama2.c, GGUF)
// has its q/k OUTPUT rows permuted (halfFromInterleaved): qweight columns, qzeros/scales columns
// move together; g_idx (inputs) does not change.
// Non-quantized tensors (embeddings, norms, lm_head) are written F16 (default) or F32.
import type { Tensor, UniformQuantTensor } from '../../tensor.ts';
import { NibbleError } from '../../errors.ts';
import { assertRunnable } from '../hf/runnable.ts';
import { f32Values } from '../../model/linear.ts';
import { LINEAR_NAMES, type LinearName, type LlamaModel } from '../../model/model.ts';
import { isUniformFormat, UNIFORM_BITS, unpackScales, unpackZeros } from '../../quant/format.ts';
import { unpackRows } from '../../quant/packing.ts';
import { f16Array, f16FromF32Bits } from './f16.ts';
import { halfFromInterleaved } from './rope-permute.ts';
import { writeSafetensors, type SafetensorsEntry } from './safetensors-write.ts';

export interface GptqLinear {
  bits: number;
  nGroups: number;
  qweight: Uint32Array; // (⌈K·bits/32⌉, N) int32 bit patterns
  qzeros: Uint32Array; // (nGroups, ⌈N·bits/32⌉)
  scales: Uint16Array; // (nGroups, N) fp16 bits
  gIdx: Int32Array; // (K)
}

export interface GptqExportOptions {
  floatDtype?: 'F16' | 'F32'; // non-quantized tensors (default F16)
  dampPercent?: number; // quantize_config.json damp_percent (default 0.01)
  trueSequential?: boolean; // default true (how our GPTQ runs)
  staticGroups?: boolean; // default false
  descAct?: boolean; // default: true when any linear carries a g_idx (act-order)
}

export interface GptqCheckpoint {
  safetensors: Uint8Array; // model.safetensors
  quantizeConfig: Record<string, unknown>; // quantize_config.json
  config: Record<string, unknown>; // config.json (LlamaForCausalLM + quantization_config)
}

const HF_LINEAR: Record<LinearName, string> = {
  wq: 'self_attn.q_proj',
  wk: 'self_attn.k_proj',
  wv: 'self_attn.v_proj',
  wo: 'self_attn.o_proj',
  w1: 'mlp.gate_proj',
  w2: 'mlp.down_proj',
  w3: 'mlp.up_proj',
};

/** Writes `bits`-bit value v at stream position `index` of the column starting at word `base` with `stride`. */
function putStream(out: Uint32Array, base: number, stride: number, index: number, v: number, bits: number): void {
  const p = index * bits;
  const w = p >>> 5;
  const s = p & 31;
  out[base + w * stride] |= v << s;
  if (s + bits > 32) out[base + (w + 1) * stride] |= v >>> (32 - s);
}

const bitsView = new Uint32Array(1);
const floatView = new Float32Array(bitsView.buffer);
const f32Bits = (x: number): number => ((floatView[0] = x), bitsView[0]);

/** Packs one uniform-int linear; `rowPerm` (HF output row → our row) applies the q/k RoPE permutation. */
export function packGptqLinear(t: UniformQuantTensor, rowPerm?: Int32Array): GptqLinear {
  const bits = UNIFORM_BITS[t.format];
  const [N, K] = t.shape;
  const nGroups = Math.ceil(K / t.group);
  const codes = unpackRows(t.buffers.data, N, K, bits); // (N, K)
  const scales = unpackScales(t); // (N, nGroups)
  const zeros = unpackZeros(t); // (N, nGroups)
  const gIdx = Int32Array.from({ length: K }, (_, i) => (t.buffers.gIdx ? t.buffers.gIdx[i] : Math.floor(i / t.group)));
  const inWords = Math.ceil((K * bits) / 32);
  const outWords = Math.ceil((N * bits) / 32);
  const qweight = new Uint32Array(inWords * N);
  const qzeros = new Uint32Array(nGroups * outWords);
  const scales16 = new Uint16Array(nGroups * N);
  const maxq = 2 ** bits - 1;
  for (let o = 0; o < N; o++) {
    const r = rowPerm ? rowPerm[o] : o; // our row feeding HF output o
    const flip = new Uint8Array(nGroups); // zero point 0: store the group reflected (see above)
    for (let g = 0; g < nGroups; g++) {
      const z = zeros[r * nGroups + g];
      flip[g] = z === 0 ? 1 : 0;
      putStream(qzeros, g * outWords, 1, o, flip[g] ? maxq - 1 : z - 1, bits);
      const s = scales[r * nGroups + g];
      scales16[g * N + o] = f16FromF32Bits(f32Bits(flip[g] ? -s : s));
    }
    for (let i = 0; i < K; i++) {
      const q = codes[r * K + i];
      putStream(qweight, o, N, i, flip[gIdx[i]] ? maxq - q : q, bits);
    }
  }
  return { bits, nGroups, qweight, qzeros, scales: scales16, gIdx };
}

function quantLinear(t: Tensor, what: string): UniformQuantTensor {
  if (!isUniformFormat(t.format)) {
    throw new NibbleError(
      'bad-argument',
      `gptq-safetensors: ${what} is ${t.format}; the GPTQ layout needs uniform-int linears (--method gptq or rtn)`,
    );
  }
  return t as UniformQuantTensor;
}

/** AutoGPTQ group_size for the model's linears: −1 when every row is one group, else the common group. */
function groupSize(linears: UniformQuantTensor[]): number {
  const grouped = [...new Set(linears.filter((t) => Math.ceil(t.shape[1] / t.group) > 1).map((t) => t.group))];
  if (grouped.length > 1)
    throw new NibbleError(
      'unsupported',
      `GPTQ export: linears use different group sizes (${grouped.join(', ')}); AutoGPTQ has one group_size`,
    );
  const G = grouped[0] ?? -1;
  for (const t of linears) {
    const K = t.shape[1];
    if (Math.ceil(K / t.group) !== (G === -1 ? 1 : Math.ceil(K / G)))
      throw new NibbleError(
        'unsupported',
        `GPTQ export: a linear with ${K} inputs in groups of ${t.group} does not fit group_size ${G}`,
      );
  }
  return G;
}

function floatEntry(name: string, t: Tensor, dtype: 'F16' | 'F32'): SafetensorsEntry {
  const x = f32Values(t);
  return { name, dtype, shape: [...t.shape], data: dtype === 'F32' ? x : f16Array(x) };
}

/** The whole checkpoint: safetensors bytes plus the two JSON sidecars. */
export function exportGptqCheckpoint(model: LlamaModel, opts: GptqExportOptions = {}): GptqCheckpoint {
  const c = model.config;
  const w = model.weights;
  if (w.attnBias)
    throw new NibbleError(
      'unsupported',
      'GPTQ export: attention biases (Qwen2-style) are not written; only plain Llama models',
    );
  assertRunnable(model, 'GPTQ export');
  const linears = w.layers.flatMap((lw, l) => LINEAR_NAMES.map((n) => quantLinear(lw[n], `layer ${l} ${n}`)));
  const bits = [...new Set(linears.map((t) => UNIFORM_BITS[t.format]))];
  if (bits.length !== 1) throw new NibbleError('unsupported', `GPTQ export: linears mix ${bits.join(' and ')} bits`);
  const G = groupSize(linears);
  const dtype = opts.floatDtype ?? 'F16';
  const qd = c.nHeads * c.headSize;
  const kvd = c.nKvHeads * c.headSize;
  const perms: Partial<Record<LinearName, Int32Array>> =
    c.ropeStyle === 'interleaved'
      ? { wq: halfFromInterleaved(qd, c.nHeads), wk: halfFromInterleaved(kvd, c.nKvHeads) }
      : {};

  const entries: SafetensorsEntry[] = [floatEntry('model.embed_tokens.weight', w.tokEmb, dtype)];
  w.layers.forEach((lw, l) => {
    const p = `model.layers.${l}`;
    entries.push(
      floatEntry(`${p}.input_layernorm.weight`, lw.rmsAtt, dtype),
      floatEntry(`${p}.post_attention_layernorm.weight`, lw.rmsFfn, dtype),
    );
    for (const n of LINEAR_NAMES) {
      const t = lw[n] as UniformQuantTensor;
      const [N, K] = t.shape;
      const q = packGptqLinear(t, perms[n]);
      const name = `${p}.${HF_LINEAR[n]}`;
      entries.push(
        { name: `${name}.qweight`, dtype: 'I32', shape: [q.qweight.length / N, N], data: q.qweight },
        { name: `${name}.qzeros`, dtype: 'I32', shape: [q.nGroups, q.qzeros.length / q.nGroups], data: q.qzeros },
        { name: `${name}.scales`, dtype: 'F16', shape: [q.nGroups, N], data: q.scales },
        { name: `${name}.g_idx`, dtype: 'I32', shape: [K], data: q.gIdx },
      );
    }
  });
  entries.push(floatEntry('model.norm.weight', w.rmsFinal, dtype));
  if (!c.sharedClassifier) entries.push(floatEntry('lm_head.weight', w.wcls, dtype));

  const quantizeConfig = {
    bits: bits[0],
    group_size: G,
    damp_percent: opts.dampPercent ?? 0.01,
    desc_act: opts.descAct ?? linears.some((t) => t.buffers.gIdx !== undefined),
    static_groups: opts.staticGroups ?? false,
    sym: linears.every((t) => t.sym),
    true_sequential: opts.trueSequential ?? true,
    checkpoint_format: 'gptq',
    quant_method: 'gptq',
    model_file_base_name: 'model',
  };
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.hiddenDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headSize,
    max_position_embeddings: c.seqLen,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.sharedClassifier,
    vocab_size: c.vocabSize,
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: dtype === 'F16' ? 'float16' : 'float32',
    quantization_config: quantizeConfig,
  };
  return { safetensors: writeSafetensors(entries), quantizeConfig, config };
}
