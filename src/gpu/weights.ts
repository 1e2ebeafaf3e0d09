// Weights on the GPU, tagged by format like core's Tensor. Linears are uploaded PACKED, exactly
// as src/core/quant/format.ts and src/core/llmint8.ts lay them out, and the matmul kernels
// decode them in registers (src/gpu/kernels.ts picks the kernel by the GpuWeight's format);
// no f32 copy of a quantized linear exists on the GPU. One exception, on the host: NF4/FP4
// double-quantized ('dq8') absmax values are decoded to f32 at upload
// (DYNAMIC_MAP[code]·scales2[b >> 8] + scaleOffset, the twin's own unpackScales), 4 bytes per
// 64 weights; the 4-bit codes stay packed.
//
// Stacked linears (wq;wk;wv and w1;w3 share their input) become ONE weight when their parts
// can be concatenated row-wise: f32; uniform with equal bits, group and gIdx (scales become
// f32 unless all are f16, zero points explicit unless all are symmetric: both lossless);
// codebook with equal format and block, every part but the last a whole number of blocks and
// words; LLM.int8 with equal thresholds. Otherwise runs of mergeable parts are uploaded
// separately as a 'stack' and the matmul dispatches once per run, writing its output columns.
// A stack cannot mix f32 and quantized parts (the f32 kernels write whole rows).
import { NibbleError } from '../core/errors.ts';
import { f32Values } from '../core/linear.ts';
import type { Int8RowsTensor } from '../core/llmint8.ts';
import {
  UNIFORM_BITS, isCodebookFormat, isUniformFormat, unpackScales, unpackZeros,
  type CodebookFormat, type CodebookQuantTensor, type UniformFormat, type UniformQuantTensor,
} from '../core/quant/format.ts';
import { packF16Pairs, packU8, wordsPerRow, type PackBits } from '../core/quant/packing.ts';
import { numel, type F32Tensor, type Tensor } from '../core/tensor.ts';
import { uploadStorage } from './buffers.ts';
import type { GpuContext } from './device.ts';

interface Dims {
  n: number; // outputs (rows of W)
  k: number; // inputs
}
export interface F32Weight extends Dims {
  format: 'f32';
  data: GPUBuffer; // (n, k) f32
}
export interface UniformWeight extends Dims {
  format: UniformFormat;
  bits: PackBits;
  group: number; // inputs per group (k for per-row / per-tensor scales)
  nGroups: number; // ⌈k / group⌉
  wpr: number; // u32 words per packed row
  scaleF16: boolean;
  data: GPUBuffer; // (n, wpr) packed codes
  scales: GPUBuffer; // (n, nGroups) f32, or fp16 pairs
  zeros?: GPUBuffer; // (n, nGroups) bytes; absent: symmetric, zero = 2^(bits−1)
  gIdx?: GPUBuffer; // (k) u32 group of each input column
}
export interface CodebookWeight extends Dims {
  format: CodebookFormat;
  block: number; // elements per absmax block over the flattened (n, k)
  data: GPUBuffer; // ⌈n·k / 8⌉ words, high nibble first
  absmax: GPUBuffer; // ⌈n·k / block⌉ f32
}
export interface Int8Weight extends Dims {
  format: 'llmint8';
  threshold: number; // outlier threshold; Infinity = W8A8
  wpr: number; // ⌈k / 4⌉
  data: GPUBuffer; // (n, wpr) int8 codes, 4 per word
  scales: GPUBuffer; // (n) f32
}
export type LeafWeight = F32Weight | UniformWeight | CodebookWeight | Int8Weight;
/** Row-wise concatenation of weights that could not be merged; part i's rows follow part i − 1's. */
export interface StackedWeight extends Dims {
  format: 'stack';
  parts: readonly LeafWeight[];
}
/** A linear map W (n, k) = [out, in] on the GPU. */
export type GpuWeight = LeafWeight | StackedWeight;

const bad = (msg: string): never => {
  throw new NibbleError('bad-format', msg);
};

const shapeOf = (t: Tensor, label: string): [number, number] => {
  if (t.shape.length !== 2) throw new NibbleError('bad-dims', `${label}: expected a matrix, got shape [${t.shape}]`);
  return [t.shape[0], t.shape[1]];
};

const sameIdx = (a?: Uint32Array, b?: Uint32Array): boolean =>
  a === b || (!!a && !!b && a.length === b.length && a.every((v, i) => v === b[i]));

/** Whether b can be appended row-wise to a in one packed weight (see the header). */
function mergeable(a: Tensor, b: Tensor): boolean {
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
  return true; // f32
}

function concat<T extends Float32Array | Uint32Array>(arrays: readonly T[], make: (n: number) => T): T {
  const out = make(arrays.reduce((s, a) => s + a.length, 0));
  let off = 0;
  for (const a of arrays) {
    out.set(a, off);
    off += a.length;
  }
  return out;
}

/** Parts (mergeable, see above) as one tensor of the same format with the rows of all. */
function merge(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (parts.length === 1) return first;
  const n = parts.reduce((s, t) => s + t.shape[0], 0);
  const k = first.shape[1];
  const u32 = (len: number) => new Uint32Array(len);
  const f32 = (len: number) => new Float32Array(len);
  switch (first.format) {
    case 'f32':
      return { format: 'f32', shape: [n, k], data: concat(parts.map((t) => (t as F32Tensor).data), f32) };
    case 'llmint8': {
      const ps = parts as Int8RowsTensor[];
      return {
        format: 'llmint8', shape: [n, k], threshold: first.threshold,
        buffers: { data: concat(ps.map((t) => t.buffers.data), u32), scales: concat(ps.map((t) => t.buffers.scales), f32) },
      };
    }
    case 'nf4':
    case 'fp4': {
      const ps = parts as CodebookQuantTensor[];
      return {
        format: first.format, shape: [n, k], group: first.group, sym: true, scaleType: 'f32',
        buffers: { data: concat(ps.map((t) => t.buffers.data), u32), scales: concat(ps.map((t) => unpackScales(t)), f32) },
      };
    }
    default: {
      const ps = parts as UniformQuantTensor[];
      const u = first as UniformQuantTensor;
      const scales = concat(ps.map((t) => unpackScales(t)), f32); // f16 → f32 is exact
      const allF16 = ps.every((t) => t.scaleType === 'f16');
      const sym = ps.every((t) => t.sym);
      let zeros: Uint32Array | undefined;
      if (!sym) {
        const bytes = new Uint8Array(ps.reduce((s, t) => s + t.shape[0] * Math.ceil(k / t.group), 0));
        ps.reduce((off, t) => (bytes.set(unpackZeros(t), off), off + t.shape[0] * Math.ceil(k / t.group)), 0);
        zeros = packU8(bytes);
      }
      return {
        format: u.format, shape: [n, k], granularity: u.granularity, group: u.group, sym,
        scaleType: allF16 ? 'f16' : 'f32',
        buffers: {
          data: concat(ps.map((t) => t.buffers.data), u32),
          scales: allF16 ? packF16Pairs(scales) : scales, // f32 → f16 of f16 values is exact
          ...(zeros ? { zeros } : {}),
          ...(u.buffers.gIdx ? { gIdx: u.buffers.gIdx } : {}),
        },
      };
    }
  }
}

/** One tensor's packed buffers on the GPU, lengths checked against its shape. */
function uploadLeaf(ctx: GpuContext, t: Tensor, label: string): LeafWeight {
  const [n, k] = shapeOf(t, label);
  const up = (d: Float32Array | Uint32Array, what: string) => uploadStorage(ctx, d, `${label}.${what}`);
  const need = (what: string, have: number, want: number) => {
    if (have !== want) bad(`${label}: ${t.format} ${what} has ${have} values, a ${n}×${k} weight needs ${want}`);
  };
  switch (t.format) {
    case 'f32':
      return { format: 'f32', n, k, data: up(t.data, 'w') };
    case 'llmint8': {
      const wpr = Math.ceil(k / 4);
      need('data', t.buffers.data.length, n * wpr);
      need('scales', t.buffers.scales.length, n);
      return { format: 'llmint8', n, k, threshold: t.threshold, wpr, data: up(t.buffers.data, 'q'), scales: up(t.buffers.scales, 's') };
    }
    case 'nf4':
    case 'fp4': {
      const absmax = unpackScales(t); // dq8: decoded here (see the header)
      need('data', t.buffers.data.length, Math.ceil((n * k) / 8));
      need('absmax', absmax.length, Math.ceil((n * k) / t.group));
      return { format: t.format, n, k, block: t.group, data: up(t.buffers.data, 'q'), absmax: up(absmax, 'absmax') };
    }
    case 'q8':
    case 'q4':
    case 'q3':
    case 'q2': {
      const bits = UNIFORM_BITS[t.format];
      const wpr = wordsPerRow(bits, k);
      const nGroups = Math.ceil(k / t.group);
      const b = t.buffers;
      need('data', b.data.length, n * wpr);
      need('scales', b.scales.length, t.scaleType === 'f16' ? Math.ceil((n * nGroups) / 2) : n * nGroups);
      if (!t.sym) need('zeros', b.zeros?.length ?? 0, Math.ceil((n * nGroups) / 4));
      if (b.gIdx) {
        need('gIdx', b.gIdx.length, k);
        if (b.gIdx.some((g) => g >= nGroups)) bad(`${label}: gIdx names a group ≥ ${nGroups}`);
      }
      return {
        format: t.format, n, k, bits, group: t.group, nGroups, wpr, scaleF16: t.scaleType === 'f16',
        data: up(b.data, 'q'), scales: up(b.scales, 's'),
        ...(t.sym ? {} : { zeros: up(b.zeros!, 'z') }),
        ...(b.gIdx ? { gIdx: up(b.gIdx, 'gidx') } : {}),
      };
    }
    default: {
      const never: never = t;
      throw new NibbleError('unsupported', `${label}: no GPU upload for weight format ${(never as Tensor).format}`);
    }
  }
}

/**
 * Uploads one linear map, or several stacked along the output dim (e.g. wq;wk;wv → one
 * (qDim + 2·kvDim, dim) weight so one matmul computes all three). Parts must share the
 * input size.
 */
export function uploadLinear(ctx: GpuContext, parts: readonly Tensor[], label: string): GpuWeight {
  const shapes = parts.map((t, i) => shapeOf(t, `${label}[${i}]`));
  const k = shapes[0][1];
  if (shapes.some(([, kk]) => kk !== k)) {
    throw new NibbleError('bad-dims', `${label}: stacked parts have input sizes ${shapes.map((s) => s[1])}`);
  }
  const n = shapes.reduce((s, [nn]) => s + nn, 0);
  const runs: Tensor[][] = [];
  for (const t of parts) {
    const run = runs[runs.length - 1];
    if (run && mergeable(run[run.length - 1], t)) run.push(t);
    else runs.push([t]);
  }
  if (runs.length > 1 && parts.some((t) => t.format === 'f32')) {
    throw new NibbleError(
      'unsupported',
      `${label}: stacked linears mix f32 and quantized weights (${parts.map((t) => t.format).join(', ')}); quantize them alike, or use the CPU backend`,
    );
  }
  const leaves: LeafWeight[] = [];
  try {
    runs.forEach((run, i) => leaves.push(uploadLeaf(ctx, merge(run), runs.length > 1 ? `${label}.${i}` : label)));
  } catch (e) {
    leaves.forEach((w) => weightBuffers(w).forEach((b) => b.destroy()));
    throw e;
  }
  return leaves.length === 1 ? leaves[0] : { format: 'stack', n, k, parts: leaves };
}

/** Uploads a vector (norm weights) or table (embeddings) that the kernels read as f32. */
export function uploadF32(ctx: GpuContext, t: Tensor, label: string): GPUBuffer {
  return uploadStorage(ctx, f32Values(t), label);
}

/** Every buffer a weight owns (to destroy it). */
export function weightBuffers(w: GpuWeight): GPUBuffer[] {
  switch (w.format) {
    case 'stack':
      return w.parts.flatMap(weightBuffers);
    case 'f32':
      return [w.data];
    case 'llmint8':
      return [w.data, w.scales];
    case 'nf4':
    case 'fp4':
      return [w.data, w.absmax];
    default:
      return [w.data, w.scales, ...(w.zeros ? [w.zeros] : []), ...(w.gIdx ? [w.gIdx] : [])];
  }
}

/** Leaf weights by format tag with the GPU bytes their buffers occupy. */
export function weightBytesByFormat(w: GpuWeight): Record<string, number> {
  const out: Record<string, number> = {};
  for (const leaf of w.format === 'stack' ? w.parts : [w]) {
    out[leaf.format] = (out[leaf.format] ?? 0) + weightBuffers(leaf).reduce((s, b) => s + b.size, 0);
  }
  return out;
}
