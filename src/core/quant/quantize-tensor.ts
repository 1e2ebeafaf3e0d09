// F32Tensor ⇄ QuantTensor: run a quantizer and pack its output into the layouts of format.ts.

import { NibbleError } from '../errors.ts';
import {
  f32Tensor,
  numel,
  type F32Tensor,
  type CodebookFormat,
  type CodebookQuantTensor,
  type Granularity,
  type QuantFormat,
  type QuantTensor,
  type UniformFormat,
  type UniformQuantTensor,
} from '../tensor.ts';
import {
  UNIFORM_BITS,
  isCodebookFormat,
  isUniformFormat,
  uniformFormatForBits,
  unpackScales,
  unpackZeros,
} from './format.ts';
import { dequantize4bit, doubleQuantize, quantize4bit } from './nf4.ts';
import {
  packF16Pairs,
  packNibblesHighFirst,
  packRows,
  packU8,
  unpackNibblesHighFirst,
  unpackRows,
  type PackBits,
} from './packing.ts';
import {
  checkBits,
  dequantizeMatrix,
  groupLayout,
  quantizeMatrix,
  requireWholeGroups,
  type UniformQuantized,
} from './uniform.ts';

export interface QuantizeOptions {
  format: QuantFormat;
  /** Uniform: default 'group' when `group` is given, else 'row'. Ignored by nf4/fp4. */
  granularity?: Granularity;
  /** Uniform 'group': inputs per group G ≥ 1. nf4/fp4: block size over the flattened tensor (64). */
  group?: number;
  /** Uniform: symmetric (zero = 2^(bits−1), no zeros buffer). Default false. */
  sym?: boolean;
  /** Uniform: 'f32' (default) or 'f16' scales (codes are computed with the f16-rounded scale). */
  scaleType?: 'f32' | 'f16';
  /** Uniform: throw "group G does not divide in=K" instead of using a ragged last group. */
  strictGroups?: boolean;
  /** nf4/fp4: bitsandbytes double quantization of the absmax values (block 256). */
  doubleQuant?: boolean;
}

export function quantizeTensor(t: F32Tensor, opts: QuantizeOptions): QuantTensor {
  if (isUniformFormat(opts.format)) return quantizeUniformPlan(t.data, uniformPlan(t.shape, opts));
  if (isCodebookFormat(opts.format)) return quantizeCodebook(t, opts);
  throw new NibbleError('unsupported', `quantizeTensor: unknown format '${String(opts.format)}'`);
}

/**
 * A uniform quantizer with every option resolved: what the CPU twin (quantizeUniformPlan) and the
 * WGSL kernels (src/gpu/quant-rtn.ts) both run. Codes of `bits` ≤ container bits; 5–7-bit codes
 * live in 8-bit containers and then always store their zero points (stored sym = false).
 */
export interface UniformPlan {
  rows: number; // out
  cols: number; // in
  bits: number; // fitted bits, 2..8
  container: PackBits; // packed code width: bits, or 8 for 5–7-bit codes
  granularity: Granularity; // as stored in the tensor
  group: number; // G (= cols for 'row' and 'tensor')
  sym: boolean; // fitted symmetric: zero = 2^(bits−1)
  scaleType: 'f32' | 'f16';
}

/** Stored symmetric (no zeros buffer): only when the codes fill their container. */
export const storedSym = (p: UniformPlan): boolean => p.sym && p.container === p.bits;

/** The plan of quantizeTensor's uniform formats (q8/q4/q3/q2) for a matrix of `shape`. */
export function uniformPlan(shape: readonly number[], opts: QuantizeOptions): UniformPlan {
  const format = opts.format as UniformFormat;
  if (shape.length !== 2)
    throw new NibbleError('bad-argument', `${format}: expects a matrix [out, in], got shape [${shape}]`);
  const [rows, cols] = shape;
  const granularity = opts.granularity ?? (opts.group !== undefined ? 'group' : 'row');
  if (granularity === 'group' && opts.strictGroups) requireWholeGroups(opts.group ?? NaN, cols);
  const bits = UNIFORM_BITS[format];
  const { group } = groupLayout({ granularity, group: opts.group }, cols);
  return {
    rows,
    cols,
    bits,
    container: bits,
    granularity,
    group,
    sym: opts.sym ?? false,
    scaleType: opts.scaleType ?? 'f32',
  };
}

/** CPU twin of the uniform kernels: w (rows, cols) → the packed tensor the plan describes. */
export function quantizeUniformPlan(w: Float32Array, p: UniformPlan): UniformQuantTensor {
  checkBits(p.bits);
  if (p.bits > p.container)
    throw new NibbleError('bad-argument', `${p.bits}-bit codes do not fit a ${p.container}-bit container`);
  const q = quantizeMatrix(w, p.rows, p.cols, {
    bits: p.bits,
    sym: p.sym,
    granularity: p.granularity,
    group: p.group,
    f16Scales: p.scaleType === 'f16',
  });
  return packUniform({ ...q, bits: p.container, sym: storedSym(p) }, p.scaleType);
}

/**
 * Packs unpacked uniform codes (from quantizeMatrix, or from GPTQ) into a UniformQuantTensor.
 * With 'f16' the scales should already be fp16 values (f16Scales), else they are rounded here.
 * gIdx (in): group of each input column, for act-order GPTQ without static groups.
 */
export function packUniform(
  q: UniformQuantized,
  scaleType: 'f32' | 'f16' = 'f32',
  gIdx?: Uint32Array,
): UniformQuantTensor {
  const format = uniformFormatForBits(q.bits);
  if (!format) throw new NibbleError('unsupported', `no packed format for ${q.bits}-bit codes (q8, q4, q3, q2 only)`);
  if (gIdx && (gIdx.length !== q.cols || gIdx.some((g) => g >= q.nGroups))) {
    throw new NibbleError('bad-argument', `gIdx: needs ${q.cols} group indices below ${q.nGroups}`);
  }
  return {
    format,
    shape: [q.rows, q.cols],
    granularity: q.granularity,
    group: q.group,
    sym: q.sym,
    scaleType,
    buffers: {
      data: packRows(q.codes, q.rows, q.cols, q.bits),
      scales: scaleType === 'f16' ? packF16Pairs(q.scales) : q.scales,
      ...(q.sym ? {} : { zeros: packU8(q.zeros) }),
      ...(gIdx ? { gIdx } : {}),
    },
  };
}

function quantizeCodebook(t: F32Tensor, opts: QuantizeOptions): CodebookQuantTensor {
  const format = opts.format as CodebookFormat;
  const q = quantize4bit(t.data, format, opts.group ?? 64);
  const zeroCode = format === 'nf4' ? 7 : 0;
  return codebookTensor(
    format,
    t.shape,
    q.blockSize,
    packNibblesHighFirst(q.codes, zeroCode),
    q.absmax,
    opts.doubleQuant,
  );
}

/**
 * The codebook tensor from packed codes (⌈numel / 8⌉ words) and block absmax (nBlocks); with
 * doubleQuant the absmax values are themselves quantized (bitsandbytes, block 256) here on the
 * CPU, for both backends (one value per block: small).
 */
export function codebookTensor(
  format: CodebookFormat,
  shape: readonly number[],
  blockSize: number,
  data: Uint32Array,
  absmax: Float32Array,
  doubleQuant = false,
): CodebookQuantTensor {
  const base = { format, shape: [...shape], group: blockSize, sym: true as const };
  if (!doubleQuant) return { ...base, scaleType: 'f32', buffers: { data, scales: absmax } };
  const dq = doubleQuantize(absmax, 256);
  return {
    ...base,
    scaleType: 'dq8',
    scaleOffset: dq.offset,
    buffers: { data, scales: packU8(dq.codes), scales2: dq.absmax2 },
  };
}

/** ŵ as an F32Tensor of the same shape (the CPU twin of every dequantizing kernel). */
export function dequantizeTensor(t: QuantTensor): F32Tensor {
  const scales = unpackScales(t);
  if (isUniformFormat(t.format)) {
    const u = t as UniformQuantTensor;
    const [rows, cols] = u.shape;
    const codes = unpackRows(u.buffers.data, rows, cols, UNIFORM_BITS[u.format]);
    const nGroups = Math.ceil(cols / u.group);
    const w = dequantizeMatrix(
      { rows, cols, group: u.group, nGroups, codes, scales, zeros: unpackZeros(u) },
      u.buffers.gIdx,
    );
    return f32Tensor([rows, cols], w);
  }
  const c = t as CodebookQuantTensor;
  const n = numel(c.shape);
  const codes = unpackNibblesHighFirst(c.buffers.data, n);
  return f32Tensor([...c.shape], dequantize4bit({ kind: c.format, blockSize: c.group, codes, absmax: scales }));
}
