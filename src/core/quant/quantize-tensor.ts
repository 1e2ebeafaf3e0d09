// F32Tensor ⇄ QuantTensor: run a quantizer and pack its output into the layouts of format.ts.

import { NibbleError } from '../errors.ts';
import { f32Tensor, numel, type F32Tensor } from '../tensor.ts';
import {
  UNIFORM_BITS,
  isCodebookFormat,
  isUniformFormat,
  uniformFormatForBits,
  unpackScales,
  unpackZeros,
  type CodebookQuantTensor,
  type QuantFormat,
  type QuantTensor,
  type UniformQuantTensor,
} from './format.ts';
import { dequantize4bit, doubleQuantize, quantize4bit } from './nf4.ts';
import { packF16Pairs, packNibblesHighFirst, packRows, packU8, unpackNibblesHighFirst, unpackRows } from './packing.ts';
import {
  dequantizeMatrix,
  quantizeMatrix,
  requireWholeGroups,
  type Granularity,
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
  if (isUniformFormat(opts.format)) return quantizeUniform(t, opts);
  if (isCodebookFormat(opts.format)) return quantizeCodebook(t, opts);
  throw new NibbleError('unsupported', `quantizeTensor: unknown format '${String(opts.format)}'`);
}

function quantizeUniform(t: F32Tensor, opts: QuantizeOptions): UniformQuantTensor {
  const format = opts.format as UniformQuantTensor['format'];
  if (t.shape.length !== 2)
    throw new NibbleError('bad-argument', `${format}: expects a matrix [out, in], got shape [${t.shape}]`);
  const [rows, cols] = t.shape;
  const granularity = opts.granularity ?? (opts.group !== undefined ? 'group' : 'row');
  if (granularity === 'group' && opts.strictGroups) requireWholeGroups(opts.group ?? NaN, cols);
  const scaleType = opts.scaleType ?? 'f32';
  const bits = UNIFORM_BITS[format];
  const q = quantizeMatrix(t.data, rows, cols, {
    bits,
    sym: opts.sym ?? false,
    granularity,
    group: opts.group,
    f16Scales: scaleType === 'f16',
  });
  return packUniform(q, scaleType);
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
  const format = opts.format as CodebookQuantTensor['format'];
  const q = quantize4bit(t.data, format, opts.group ?? 64);
  const zeroCode = format === 'nf4' ? 7 : 0;
  const data = packNibblesHighFirst(q.codes, zeroCode);
  const base = { format, shape: [...t.shape], group: q.blockSize, sym: true as const };
  if (!opts.doubleQuant) return { ...base, scaleType: 'f32', buffers: { data, scales: q.absmax } };
  const dq = doubleQuantize(q.absmax, 256);
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
