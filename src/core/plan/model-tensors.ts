// How each weight of a model sits on the GPU, as pure arithmetic and host-side slicing. One
// source of truth for src/gpu/weights.ts (which uploads) and the memory plan (which estimates
// before a byte is uploaded): describeModelTensors lists exactly the buffers the WebGPU runner
// creates for the weights, with their padded sizes, so planMemory(...).weightBytes equals
// runner.memory().weightBytes (test/gpu/memory-plan.test.ts).
//
// Stacked linears (wq;wk;wv and w1;w3 share their input) are ONE weight when their parts can be
// concatenated row-wise (`mergeable`): f32; uniform with equal bits, group and gIdx (scales
// become f32 unless all are f16, zero points explicit unless all are symmetric: both lossless);
// codebook with equal format and block, every part but the last a whole number of blocks and
// words; LLM.int8 with equal thresholds. Otherwise each run of mergeable parts is its own GPU
// weight (a 'stack' on the GPU, one dispatch per run), described as `<name>.<run>`.
//
// Splitting across bindings (memory-plan.ts rules): a weight larger than one binding is cut into
// row ranges (`sliceRows`); the packed formats need part boundaries at whole words of their
// scale / zero / code streams, which `rowAlign` states (rows per part are a multiple of it).
import { NibbleError } from '../errors.ts';
import { gpuBufferBytes, type TensorPlanEntry } from './memory-plan.ts';
import type { LlamaModel, LlamaWeights } from '../model/model.ts';
import { UNIFORM_BITS, isCodebookFormat, isUniformFormat, unpackScales, unpackZeros } from '../quant/format.ts';
import { packF16Pairs, packU8, wordsPerRow } from '../quant/packing.ts';
import { f16Codes, packCodes } from '../formats/f16-tensor.ts';
import {
  numel,
  type F16Tensor,
  type F32Tensor,
  type Tensor,
  type CodebookQuantTensor,
  type Int8RowsTensor,
  type UniformQuantTensor,
} from '../tensor.ts';

const sameIdx = (a?: Uint32Array, b?: Uint32Array): boolean =>
  a === b || (!!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]));

/** Whether b can be appended row-wise to a in one packed weight (see the header). */
export function mergeable(a: Tensor, b: Tensor): boolean {
  if (a.format !== b.format || a.shape[1] !== b.shape[1]) return false;
  if (a.format === 'llmint8') return a.threshold === (b as Int8RowsTensor).threshold;
  if (isUniformFormat(a.format)) {
    const ua = a as UniformQuantTensor;
    const ub = b as UniformQuantTensor;
    return ua.group === ub.group && sameIdx(ua.buffers.gIdx, ub.buffers.gIdx);
  }
  if (isCodebookFormat(a.format)) {
    const ca = a as CodebookQuantTensor;
    const n = numel(ca.shape);
    return ca.group === (b as CodebookQuantTensor).group && n % 8 === 0 && n % ca.group === 0;
  }
  return true; // f32, f16
}

/** Stacked parts grouped into runs of mergeable neighbours (each run becomes one GPU weight). */
export function linearRuns(parts: readonly Tensor[]): Tensor[][] {
  const runs: Tensor[][] = [];
  for (const t of parts) {
    const run = runs[runs.length - 1];
    if (run && mergeable(run[run.length - 1], t)) run.push(t);
    else runs.push([t]);
  }
  return runs;
}

function concat<T extends Float32Array | Uint32Array | Uint16Array>(arrays: readonly T[], make: (n: number) => T): T {
  const out = make(arrays.reduce((s, a) => s + a.length, 0));
  let off = 0;
  for (const a of arrays) {
    out.set(a, off);
    off += a.length;
  }
  return out;
}

/** A run (mergeable, see above) as one tensor of the same format with the rows of all. */
export function mergeRun(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (parts.length === 1) return first;
  const n = parts.reduce((s, t) => s + t.shape[0], 0);
  const k = first.shape[1];
  const u32 = (len: number) => new Uint32Array(len);
  const f32 = (len: number) => new Float32Array(len);
  switch (first.format) {
    case 'f32':
      return {
        format: 'f32',
        shape: [n, k],
        data: concat(
          parts.map((t) => (t as F32Tensor).data),
          f32,
        ),
      };
    case 'f16': // codes concatenated, then re-paired (an odd part shifts the halves of the next)
      return {
        format: 'f16',
        shape: [n, k],
        data: packCodes(
          concat(
            parts.map((t) => f16Codes(t as F16Tensor)),
            (len) => new Uint16Array(len),
          ),
        ),
      };
    case 'llmint8': {
      const ps = parts as Int8RowsTensor[];
      return {
        format: 'llmint8',
        shape: [n, k],
        threshold: first.threshold,
        buffers: {
          data: concat(
            ps.map((t) => t.buffers.data),
            u32,
          ),
          scales: concat(
            ps.map((t) => t.buffers.scales),
            f32,
          ),
        },
      };
    }
    case 'nf4':
    case 'fp4': {
      const ps = parts as CodebookQuantTensor[];
      return {
        format: first.format,
        shape: [n, k],
        group: first.group,
        sym: true,
        scaleType: 'f32',
        buffers: {
          data: concat(
            ps.map((t) => t.buffers.data),
            u32,
          ),
          scales: concat(
            ps.map((t) => unpackScales(t)),
            f32,
          ),
        },
      };
    }
    default: {
      const ps = parts as UniformQuantTensor[];
      const u = first as UniformQuantTensor;
      const scales = concat(
        ps.map((t) => unpackScales(t)),
        f32,
      ); // f16 → f32 is exact
      const allF16 = ps.every((t) => t.scaleType === 'f16');
      const sym = ps.every((t) => t.sym);
      let zeros: Uint32Array | undefined;
      if (!sym) {
        const bytes = new Uint8Array(ps.reduce((s, t) => s + t.shape[0] * Math.ceil(k / t.group), 0));
        ps.reduce((off, t) => (bytes.set(unpackZeros(t), off), off + t.shape[0] * Math.ceil(k / t.group)), 0);
        zeros = packU8(bytes);
      }
      return {
        format: u.format,
        shape: [n, k],
        granularity: u.granularity,
        group: u.group,
        sym,
        scaleType: allF16 ? 'f16' : 'f32',
        buffers: {
          data: concat(
            ps.map((t) => t.buffers.data),
            u32,
          ),
          scales: allF16 ? packF16Pairs(scales) : scales, // f32 → f16 of f16 values is exact
          ...(zeros ? { zeros } : {}),
          ...(u.buffers.gIdx ? { gIdx: u.buffers.gIdx } : {}),
        },
      };
    }
  }
}

/** One run's GPU weight, from shapes alone (no merge): its buffers as uploaded, and the split unit. */
export interface LeafLayout {
  format: string;
  rows: number; // n (outputs)
  cols: number; // k (inputs)
  /** Padded bytes of each buffer uploadLeaf creates, data first (gIdx last, shared by split parts). */
  buffers: number[];
  /** Rows per split part must be a multiple of this (1 for f32 and LLM.int8; 2 for f16 with odd k). */
  rowAlign: number;
}

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
/** Smallest a ≥ 1 with a·per % unit = 0. */
const alignFor = (per: number, unit: number): number => unit / gcd(per % unit, unit);

export function runLayout(run: readonly Tensor[]): LeafLayout {
  const first = run[0];
  const n = run.reduce((s, t) => s + t.shape[0], 0);
  const k = first.shape[1];
  const b = gpuBufferBytes;
  const base = { format: first.format, rows: n, cols: k };
  if (first.format === 'f32') return { ...base, buffers: [b(n * k * 4)], rowAlign: 1 };
  if (first.format === 'f16') return { ...base, buffers: [b(Math.ceil((n * k) / 2) * 4)], rowAlign: alignFor(k, 2) };
  if (first.format === 'llmint8') return { ...base, buffers: [b(n * Math.ceil(k / 4) * 4), b(n * 4)], rowAlign: 1 };
  if (isCodebookFormat(first.format)) {
    const block = (first as CodebookQuantTensor).group;
    const unit = (8 * block) / gcd(8, block); // lcm(8, block): whole code words and absmax blocks
    return {
      ...base,
      buffers: [b(Math.ceil((n * k) / 8) * 4), b(Math.ceil((n * k) / block) * 4)],
      rowAlign: alignFor(k, unit),
    };
  }
  const u = first as UniformQuantTensor;
  const nGroups = Math.ceil(k / u.group);
  const f16 = run.every((t) => (t as UniformQuantTensor).scaleType === 'f16');
  const asym = run.some((t) => !(t as UniformQuantTensor).sym);
  const buffers = [
    b(n * wordsPerRow(UNIFORM_BITS[u.format], k) * 4),
    b(f16 ? Math.ceil((n * nGroups) / 2) * 4 : n * nGroups * 4),
  ];
  if (asym) buffers.push(b(Math.ceil((n * nGroups) / 4) * 4));
  if (u.buffers.gIdx) buffers.push(b(k * 4));
  return { ...base, buffers, rowAlign: alignFor(nGroups, asym ? 4 : f16 ? 2 : 1) };
}

/**
 * Rows r0 .. r0 + rows of a merged 2-D weight as a tensor of the same format (copies). For
 * packed formats r0 must be a multiple of runLayout's rowAlign; gIdx is the same array (so
 * the uploader can share its buffer). Codebook absmax comes out as f32 (dq8 decoded, as the
 * GPU upload does anyway).
 */
export function sliceRows(t: Tensor, r0: number, rows: number): Tensor {
  const [n, k] = t.shape;
  if (r0 < 0 || rows < 1 || r0 + rows > n)
    throw new NibbleError('bad-argument', `sliceRows: rows ${r0}..${r0 + rows - 1} of ${n}`);
  const words = (a: Uint32Array | Float32Array, per: number, div = 1) =>
    a.slice(Math.floor((r0 * per) / div), Math.ceil(((r0 + rows) * per) / div));
  switch (t.format) {
    case 'f32':
      return { format: 'f32', shape: [rows, k], data: t.data.slice(r0 * k, (r0 + rows) * k) };
    case 'f16':
      return { format: 'f16', shape: [rows, k], data: packCodes(f16Codes(t).slice(r0 * k, (r0 + rows) * k)) };
    case 'llmint8': {
      const wpr = Math.ceil(k / 4);
      return {
        ...t,
        shape: [rows, k],
        buffers: {
          data: words(t.buffers.data, wpr) as Uint32Array,
          scales: words(t.buffers.scales, 1) as Float32Array,
        },
      };
    }
    case 'nf4':
    case 'fp4':
      return {
        format: t.format,
        shape: [rows, k],
        group: t.group,
        sym: true,
        scaleType: 'f32',
        buffers: {
          data: words(t.buffers.data, k, 8) as Uint32Array,
          scales: words(unpackScales(t), k, t.group) as Float32Array,
        },
      };
    default: {
      const nGroups = Math.ceil(k / t.group);
      const b = t.buffers;
      return {
        ...t,
        shape: [rows, k],
        buffers: {
          data: words(b.data, wordsPerRow(UNIFORM_BITS[t.format], k)) as Uint32Array,
          scales: words(b.scales, nGroups, t.scaleType === 'f16' ? 2 : 1),
          ...(b.zeros ? { zeros: words(b.zeros, nGroups, 4) as Uint32Array } : {}),
          ...(b.gIdx ? { gIdx: b.gIdx } : {}),
        },
      };
    }
  }
}

/**
 * Whether the embedding kernels read a table of this format as stored: f32, f16, and uniform
 * q8 / q4 / q2 without gIdx (embed_f32 / embed_f16 / embed_qn); any other table is uploaded
 * widened to f32.
 */
export function embeddableAsStored(t: Tensor): boolean {
  if (t.format === 'f32' || t.format === 'f16') return true;
  return (t.format === 'q8' || t.format === 'q4' || t.format === 'q2') && !t.buffers.gIdx;
}

/** The tied classifier is the embedding's own buffer(s) on the GPU when the table is stored as is. */
export const sharesEmbeddingBuffer = (w: LlamaWeights): boolean => w.wcls === w.tokEmb && embeddableAsStored(w.tokEmb);

/**
 * Every weight of `model` as the WebGPU runner uploads it (names are the upload labels):
 * tok_emb (as stored when embeddableAsStored, else widened to f32); per layer
 * l<i>.rms_att, l<i>.wqkv (one entry per run: l<i>.wqkv.<r> when wq, wk, wv cannot merge),
 * l<i>.attn_bias (bq;bk;bv, Qwen2 only), l<i>.qk_norm (q;k norm weights, 2·headSize, Qwen3
 * only), l<i>.wo, l<i>.rms_ffn, l<i>.w13, l<i>.w2; rms_final; wcls unless it shares the
 * embedding's buffer. Bytes are padded buffer sizes.
 */
export function describeModelTensors(model: LlamaModel): TensorPlanEntry[] {
  const w = model.weights;
  const out: TensorPlanEntry[] = [];
  const vector = (name: string, values: number) =>
    out.push({ name, rows: 1, cols: values, bytes: gpuBufferBytes(values * 4), format: 'f32' });
  const linear = (name: string, parts: readonly Tensor[]) => {
    const runs = linearRuns(parts);
    runs.forEach((run, i) => {
      const l = runLayout(run);
      out.push({
        name: runs.length > 1 ? `${name}.${i}` : name,
        rows: l.rows,
        cols: l.cols,
        format: l.format,
        bytes: l.buffers.reduce((s, x) => s + x, 0),
        rowAlign: l.rowAlign,
      });
    });
  };
  const [vocab, dim] = w.tokEmb.shape;
  if (embeddableAsStored(w.tokEmb)) linear('tok_emb', [w.tokEmb]);
  else
    out.push({
      name: 'tok_emb',
      rows: vocab,
      cols: dim,
      bytes: gpuBufferBytes(vocab * dim * 4),
      format: 'f32',
      rowAlign: 1,
    });
  w.layers.forEach((l, i) => {
    vector(`l${i}.rms_att`, numel(l.rmsAtt.shape));
    linear(`l${i}.wqkv`, [l.wq, l.wk, l.wv]);
    const bias = w.attnBias?.[i];
    if (bias) vector(`l${i}.attn_bias`, bias.bq.data.length + bias.bk.data.length + bias.bv.data.length);
    const qkNorm = w.qkNorm?.[i];
    if (qkNorm) vector(`l${i}.qk_norm`, qkNorm.q.data.length + qkNorm.k.data.length);
    linear(`l${i}.wo`, [l.wo]);
    vector(`l${i}.rms_ffn`, numel(l.rmsFfn.shape));
    linear(`l${i}.w13`, [l.w1, l.w3]);
    linear(`l${i}.w2`, [l.w2]);
  });
  vector('rms_final', numel(w.rmsFinal.shape));
  if (!sharesEmbeddingBuffer(w)) linear('wcls', [w.wcls]);
  return out;
}
