// Weights on the GPU, tagged by format like core's Tensor. Linears are uploaded PACKED, exactly
// as src/core/quant/format.ts and src/core/quant/llmint8.ts lay them out, and the matmul kernels
// decode them in registers (src/gpu/kernels.ts picks the kernel by the GpuWeight's format);
// no f32 copy of a quantized linear exists on the GPU. 16-bit weights (core F16Tensor) are
// uploaded as their fp16 pairs, 2 bytes per weight. One exception, on the host: NF4/FP4
// double-quantized ('dq8') absmax values are decoded to f32 at upload
// (DYNAMIC_MAP[code]·scales2[b >> 8] + scaleOffset, the twin's own unpackScales), 4 bytes per
// 64 weights; the 4-bit codes stay packed.
//
// Stacked linears (wq;wk;wv and w1;w3 share their input) become ONE weight when their parts
// can be concatenated row-wise (the rules and the merge live in src/core/plan/model-tensors.ts, which
// the memory plan shares). Otherwise runs of mergeable parts are uploaded separately as a
// 'stack' and the matmul dispatches once per run, writing its output columns (n_off, ldo).
// A stack cannot mix f32 and quantized runs.
//
// Splitting across bindings: a run larger than `cap` bytes (one storage binding; the device's
// min(maxBufferSize, maxStorageBufferBindingSize) unless the runner asks for less) is cut into
// row ranges of rowsPerPart(...) rows (src/core/plan/memory-plan.ts: ⌊cap / rowBytes⌋, rounded to the
// packing's rowAlign) and each part is one leaf of the stack: one more dispatch per extra part.
// Parts of a uniform weight with gIdx share one gIdx buffer. A row (or rowAlign rows) larger
// than cap fails with NibbleError('too-large').
import { NibbleError } from '../core/errors.ts';
import { f32Values } from '../core/model/linear.ts';
import { rowsPerPart } from '../core/plan/memory-plan.ts';
import { embeddableAsStored, linearRuns, mergeRun, runLayout, sliceRows } from '../core/plan/model-tensors.ts';
import { UNIFORM_BITS, unpackScales } from '../core/quant/format.ts';
import { wordsPerRow, type PackBits } from '../core/quant/packing.ts';
import { f32Tensor, type Tensor, type CodebookFormat, type UniformFormat } from '../core/tensor.ts';
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
export interface F16Weight extends Dims {
  format: 'f16';
  data: GPUBuffer; // ⌈n·k / 2⌉ words of fp16 pairs (core F16Tensor), uploaded as stored
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
export type LeafWeight = F32Weight | F16Weight | UniformWeight | CodebookWeight | Int8Weight;
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

/** Checks a leaf tensor's buffer lengths against its shape (before slicing or uploading it). */
function checkLeaf(t: Tensor, label: string): void {
  const [n, k] = shapeOf(t, label);
  const need = (what: string, have: number, want: number) => {
    if (have !== want) bad(`${label}: ${t.format} ${what} has ${have} values, a ${n}×${k} weight needs ${want}`);
  };
  switch (t.format) {
    case 'f32':
      return need('data', t.data.length, n * k);
    case 'f16':
      return need('data words', t.data.length, Math.ceil((n * k) / 2));
    case 'llmint8':
      need('data', t.buffers.data.length, n * Math.ceil(k / 4));
      return need('scales', t.buffers.scales.length, n);
    case 'nf4':
    case 'fp4':
      need('data', t.buffers.data.length, Math.ceil((n * k) / 8));
      return need(
        'absmax',
        t.scaleType === 'f32' ? t.buffers.scales.length : Math.ceil((n * k) / t.group),
        Math.ceil((n * k) / t.group),
      );
    case 'q8':
    case 'q4':
    case 'q3':
    case 'q2': {
      const nGroups = Math.ceil(k / t.group);
      const b = t.buffers;
      need('data', b.data.length, n * wordsPerRow(UNIFORM_BITS[t.format], k));
      need('scales', b.scales.length, t.scaleType === 'f16' ? Math.ceil((n * nGroups) / 2) : n * nGroups);
      if (!t.sym) need('zeros', b.zeros?.length ?? 0, Math.ceil((n * nGroups) / 4));
      if (b.gIdx) {
        need('gIdx', b.gIdx.length, k);
        if (b.gIdx.some((g) => g >= nGroups)) bad(`${label}: gIdx names a group ≥ ${nGroups}`);
      }
      return;
    }
    default: {
      const never: never = t;
      throw new NibbleError('unsupported', `${label}: no GPU upload for weight format ${(never as Tensor).format}`);
    }
  }
}

/**
 * One tensor's packed buffers on the GPU (lengths checked first). `gIdxBufs` shares one gIdx
 * buffer among the row parts of a split weight (they hold the same array).
 */
function uploadLeaf(ctx: GpuContext, t: Tensor, label: string, gIdxBufs: Map<Uint32Array, GPUBuffer>): LeafWeight {
  checkLeaf(t, label);
  const [n, k] = shapeOf(t, label);
  const up = (d: Float32Array | Uint32Array, what: string) => uploadStorage(ctx, d, `${label}.${what}`);
  switch (t.format) {
    case 'f32':
      return { format: 'f32', n, k, data: up(t.data, 'w') };
    case 'f16':
      return { format: 'f16', n, k, data: up(t.data, 'w16') };
    case 'llmint8':
      return {
        format: 'llmint8',
        n,
        k,
        threshold: t.threshold,
        wpr: Math.ceil(k / 4),
        data: up(t.buffers.data, 'q'),
        scales: up(t.buffers.scales, 's'),
      };
    case 'nf4':
    case 'fp4': // dq8 absmax decoded here (see the header)
      return {
        format: t.format,
        n,
        k,
        block: t.group,
        data: up(t.buffers.data, 'q'),
        absmax: up(unpackScales(t), 'absmax'),
      };
    default: {
      const b = t.buffers;
      let gIdx: GPUBuffer | undefined;
      if (b.gIdx) {
        gIdx = gIdxBufs.get(b.gIdx) ?? up(b.gIdx, 'gidx');
        gIdxBufs.set(b.gIdx, gIdx);
      }
      return {
        format: t.format,
        n,
        k,
        bits: UNIFORM_BITS[t.format],
        group: t.group,
        nGroups: Math.ceil(k / t.group),
        wpr: wordsPerRow(UNIFORM_BITS[t.format], k),
        scaleF16: t.scaleType === 'f16',
        data: up(b.data, 'q'),
        scales: up(b.scales, 's'),
        ...(t.sym ? {} : { zeros: up(b.zeros!, 'z') }),
        ...(gIdx ? { gIdx } : {}),
      };
    }
  }
}

/** Bytes one storage binding may hold on this device: min(maxBufferSize, maxStorageBufferBindingSize). */
export const deviceBindingCap = (ctx: GpuContext): number =>
  Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);

/**
 * Uploads one linear map, or several stacked along the output dim (e.g. wq;wk;wv → one
 * (qDim + 2·kvDim, dim) weight so one matmul computes all three). Parts must share the
 * input size. A run larger than `cap` bytes is split by rows (see the header).
 */
export function uploadLinear(
  ctx: GpuContext,
  parts: readonly Tensor[],
  label: string,
  cap = deviceBindingCap(ctx),
): GpuWeight {
  const shapes = parts.map((t, i) => shapeOf(t, `${label}[${i}]`));
  const k = shapes[0][1];
  if (shapes.some(([, kk]) => kk !== k)) {
    throw new NibbleError('bad-dims', `${label}: stacked parts have input sizes ${shapes.map((s) => s[1])}`);
  }
  const n = shapes.reduce((s, [nn]) => s + nn, 0);
  const runs = linearRuns(parts);
  if (runs.length > 1 && parts.some((t) => t.format === 'f32')) {
    throw new NibbleError(
      'unsupported',
      `${label}: stacked linears mix f32 and quantized weights (${parts.map((t) => t.format).join(', ')}); quantize them alike, or use the CPU backend`,
    );
  }
  const leaves: LeafWeight[] = [];
  const gIdxBufs = new Map<Uint32Array, GPUBuffer>();
  try {
    runs.forEach((run, i) => {
      const runLabel = runs.length > 1 ? `${label}.${i}` : label;
      const layout = runLayout(run);
      const bytes = layout.buffers.reduce((s, x) => s + x, 0);
      const merged = mergeRun(run);
      if (bytes <= cap) {
        leaves.push(uploadLeaf(ctx, merged, runLabel, gIdxBufs));
        return;
      }
      const rows = rowsPerPart({ bytes, rows: layout.rows, rowAlign: layout.rowAlign }, cap);
      if (rows < 1) {
        const unit =
          layout.rowAlign > 1
            ? `${layout.rowAlign} rows (the smallest split of ${layout.format}) take`
            : 'one row takes';
        throw new NibbleError(
          'too-large',
          `${runLabel}: ${unit} ${Math.ceil((bytes / layout.rows) * layout.rowAlign)} bytes, more than one storage binding holds (${cap} bytes)`,
        );
      }
      checkLeaf(merged, runLabel);
      for (let r0 = 0, p = 0; r0 < layout.rows; r0 += rows, p++) {
        leaves.push(
          uploadLeaf(ctx, sliceRows(merged, r0, Math.min(rows, layout.rows - r0)), `${runLabel}.part${p}`, gIdxBufs),
        );
      }
    });
  } catch (e) {
    new Set(leaves.flatMap(weightBuffers)).forEach((b) => b.destroy());
    throw e;
  }
  return leaves.length === 1 ? leaves[0] : { format: 'stack', n, k, parts: leaves };
}

/**
 * Uploads a (rows, cols) table the embedding kernels read (the embedding; also the classifier
 * when shared): f32, f16 and q8 / q4 / q2 without gIdx as stored (embed_f32 / embed_f16 /
 * embed_qn), any other format widened to f32; a stack of row parts when larger than `cap`.
 */
export function uploadTable(ctx: GpuContext, t: Tensor, label: string, cap = deviceBindingCap(ctx)): GpuWeight {
  return uploadLinear(ctx, [embeddableAsStored(t) ? t : f32Tensor([...t.shape], f32Values(t))], label, cap);
}

/** Uploads a vector (norm weights, biases) that the kernels read as f32. */
export function uploadF32(ctx: GpuContext, t: Tensor | Float32Array, label: string): GPUBuffer {
  return uploadStorage(ctx, t instanceof Float32Array ? t : f32Values(t), label);
}

/** Every buffer a weight owns (to destroy it). */
export function weightBuffers(w: GpuWeight): GPUBuffer[] {
  switch (w.format) {
    case 'stack':
      return w.parts.flatMap(weightBuffers);
    case 'f32':
    case 'f16':
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

/** Leaf weights by format tag with the GPU bytes their buffers occupy (a shared gIdx counted once). */
export function weightBytesByFormat(w: GpuWeight): Record<string, number> {
  const out: Record<string, number> = {};
  const seen = new Set<GPUBuffer>();
  for (const leaf of w.format === 'stack' ? w.parts : [w]) {
    for (const b of weightBuffers(leaf)) {
      if (seen.has(b)) continue;
      seen.add(b);
      out[leaf.format] = (out[leaf.format] ?? 0) + b.size;
    }
  }
  return out;
}
