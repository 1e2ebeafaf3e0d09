// The uniform (round-to-nearest, RTN) quantizer of docs/quantization.md — the one GPTQ uses —
// and absmax int8 (LLM.int8 / SmoothQuant). Readable CPU twins of the WGSL kernels.
//
// Arithmetic is done as the f32 reference does it (PyTorch / WGSL): every intermediate that the
// reference keeps in f32 is rounded with Math.fround, and rounding is half-to-even.
//   maxq = 2^bits − 1; xmin = min(min x, 0); xmax = max(max x, 0)
//   sym:  xmax = max(|xmin|, xmax), xmin = −xmax          (always, as the doc says; the GPTQ
//         reference leaves xmin = 0 for an all-non-negative row — it differs only there)
//   xmin == xmax == 0 → [−1, 1]
//   scale = (xmax − xmin) / maxq; zero = round(−xmin / scale), or (maxq + 1) / 2 when sym
//   q = clamp(round(x / scale) + zero, 0, maxq); ŵ = scale · (q − zero)
//
// Granularity of (scale, zero) over a weight matrix (out, in), row-major:
//   'tensor' one pair for everything (stored replicated per row, so kernels see one layout);
//   'row'    one pair per output row;
//   'group'  one pair per G consecutive inputs of a row: group g of row o covers columns
//            [g·G, min((g+1)·G, in)). nGroups = ⌈in / G⌉. When G does not divide in, the LAST
//            group is ragged (in mod G columns) and is fitted on just those columns. Callers that
//            need whole groups (GGUF-style blocks) call `requireWholeGroups` first.
// scales and zeros are (out, nGroups) row-major in every case (nGroups = 1 for tensor/row).

import { NibbleError } from '../errors.ts';
import { roundToF16 } from './float-formats.ts';
import { clamp, roundHalfEven } from './rounding.ts';
import type { Granularity } from '../tensor.ts';

const f32 = Math.fround;

export interface UniformOptions {
  bits: number; // 2..8
  sym: boolean;
  granularity: Granularity;
  group?: number; // G ≥ 1, required for 'group'
  /** Round each scale to fp16 before computing codes (for kernels that read f16 scales). */
  f16Scales?: boolean;
}

export interface QuantParams {
  scale: number; // f32 (or an fp16 value when f16Scales)
  zero: number; // integer in [0, maxq]
}

/** Result of quantizing a matrix: everything unpacked, one code per byte. */
export interface UniformQuantized {
  rows: number; // out
  cols: number; // in
  bits: number;
  sym: boolean;
  granularity: Granularity;
  group: number; // G (= cols for 'tensor' and 'row')
  nGroups: number; // ⌈cols / G⌉
  codes: Uint8Array; // (rows, cols), each in [0, maxq]
  scales: Float32Array; // (rows, nGroups)
  zeros: Uint8Array; // (rows, nGroups)
}

export interface ErrorStats {
  maxAbsErr: number;
  mse: number;
  sqnrDb: number; // 10·log10(Σx² / Σ(x − x̂)²); +∞ when exact
}

export const maxq = (bits: number): number => 2 ** bits - 1;

export function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 2 || bits > 8)
    throw new NibbleError('bad-argument', `uniform quantizer: bits = ${bits}, must be an integer in 2..8`);
}

/** Throws `bad-argument` "group G does not divide in=K" unless G divides K. */
export function requireWholeGroups(G: number, K: number): void {
  checkGroup(G);
  if (K % G !== 0) throw new NibbleError('bad-argument', `group ${G} does not divide in=${K}`);
}

function checkGroup(G: number): void {
  if (!Number.isInteger(G) || G < 1) throw new NibbleError('bad-argument', `group size ${G}: must be an integer ≥ 1`);
}

/** Columns per group and number of groups for a row of `cols` inputs. */
export function groupLayout(
  opts: Pick<UniformOptions, 'granularity' | 'group'>,
  cols: number,
): { group: number; nGroups: number } {
  if (opts.granularity !== 'group') return { group: cols, nGroups: 1 };
  if (opts.group === undefined) throw new NibbleError('bad-argument', `granularity 'group' needs a group size`);
  checkGroup(opts.group);
  const group = Math.min(opts.group, cols); // G ≥ in is one group per row
  return { group, nGroups: Math.ceil(cols / group) };
}

/** (scale, zero) for x[start, end) as the doc's formulas, in f32. */
export function fitParams(
  x: ArrayLike<number>,
  start: number,
  end: number,
  bits: number,
  sym: boolean,
  f16Scales = false,
): QuantParams {
  let xmin = 0;
  let xmax = 0;
  for (let i = start; i < end; i++) {
    const v = x[i];
    if (v < xmin) xmin = v;
    else if (v > xmax) xmax = v;
    else if (v !== v) xmin = NaN; // NaN: rejected by paramsFromRange
  }
  return paramsFromRange(xmin, xmax, bits, sym, f16Scales);
}

/** (scale, zero) from a range that already contains 0 (xmin ≤ 0 ≤ xmax). */
export function paramsFromRange(
  xmin: number,
  xmax: number,
  bits: number,
  sym: boolean,
  f16Scales = false,
): QuantParams {
  if (!Number.isFinite(xmin) || !Number.isFinite(xmax))
    throw new NibbleError('bad-argument', `uniform quantizer: non-finite weight in range [${xmin}, ${xmax}]`);
  const mq = maxq(bits);
  if (sym) {
    xmax = Math.max(-xmin, xmax);
    xmin = -xmax;
  }
  if (xmin === 0 && xmax === 0) {
    xmin = -1;
    xmax = 1;
  }
  let scale = f32(f32(xmax - xmin) / mq);
  if (f16Scales) scale = f16Scale(scale);
  const zero = sym ? (mq + 1) / 2 : clamp(roundHalfEven(f32(-xmin / scale)), 0, mq) + 0; // + 0: no −0
  return { scale, zero };
}

/** scale rounded to fp16; below the smallest fp16 subnormal it becomes 2^-24, above 65504 it throws. */
function f16Scale(scale: number): number {
  const h = roundToF16(scale);
  if (!Number.isFinite(h))
    throw new NibbleError('unsupported', `scale ${scale} overflows fp16 (max 65504): use f32 scales`);
  return h === 0 ? 2 ** -24 : h;
}

/** q = clamp(round(x / scale) + zero, 0, maxq). */
export const quantizeValue = (x: number, scale: number, zero: number, mq: number): number =>
  clamp(roundHalfEven(f32(x / scale)) + zero, 0, mq);

/** ŵ = scale · (q − zero), in f32. */
export const dequantizeValue = (q: number, scale: number, zero: number): number => f32(scale * (q - zero));

/** Quantizes w (rows, cols) row-major. */
export function quantizeMatrix(w: Float32Array, rows: number, cols: number, opts: UniformOptions): UniformQuantized {
  checkBits(opts.bits);
  if (!(rows >= 1 && cols >= 1) || w.length !== rows * cols) {
    throw new NibbleError('bad-argument', `quantizeMatrix: ${w.length} values for a ${rows}×${cols} matrix`);
  }
  const { bits, sym } = opts;
  const mq = maxq(bits);
  const { group, nGroups } = groupLayout(opts, cols);
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * nGroups); // (rows, nGroups)
  const zeros = new Uint8Array(rows * nGroups); // (rows, nGroups)
  const whole = opts.granularity === 'tensor' ? fitParams(w, 0, w.length, bits, sym, opts.f16Scales) : undefined;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nGroups; g++) {
      const start = r * cols + g * group;
      const end = r * cols + Math.min((g + 1) * group, cols); // ragged last group
      const p = whole ?? fitParams(w, start, end, bits, sym, opts.f16Scales);
      scales[r * nGroups + g] = p.scale;
      zeros[r * nGroups + g] = p.zero;
      for (let i = start; i < end; i++) codes[i] = quantizeValue(w[i], p.scale, p.zero, mq);
    }
  }
  return { rows, cols, bits, sym, granularity: opts.granularity, group, nGroups, codes, scales, zeros };
}

/**
 * ŵ (rows, cols) from codes. Column c uses group gIdx[c] when given (GPTQ act-order without
 * static groups), else ⌊c / group⌋.
 */
export function dequantizeMatrix(
  q: Pick<UniformQuantized, 'rows' | 'cols' | 'group' | 'nGroups' | 'codes' | 'scales' | 'zeros'>,
  gIdx?: ArrayLike<number>,
): Float32Array {
  const { rows, cols, group, nGroups, codes, scales, zeros } = q;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = r * nGroups + (gIdx ? gIdx[c] : Math.floor(c / group));
      out[r * cols + c] = dequantizeValue(codes[r * cols + c], scales[g], zeros[g]);
    }
  }
  return out;
}

/** Quantize → dequantize in one go, with error statistics. */
export function fakeQuantize(
  w: Float32Array,
  rows: number,
  cols: number,
  opts: UniformOptions,
): { w: Float32Array; q: UniformQuantized } & ErrorStats {
  const q = quantizeMatrix(w, rows, cols, opts);
  const wq = dequantizeMatrix(q);
  return { w: wq, q, ...errorStats(w, wq) };
}

/** Max |x − x̂|, mean squared error and SQNR (dB) of an approximation x̂ of x. */
export function errorStats(x: ArrayLike<number>, xhat: ArrayLike<number>): ErrorStats {
  if (x.length !== xhat.length)
    throw new NibbleError('bad-argument', `errorStats: lengths ${x.length} and ${xhat.length} differ`);
  let maxAbsErr = 0;
  let sig = 0;
  let err = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - xhat[i];
    maxAbsErr = Math.max(maxAbsErr, Math.abs(d));
    sig += x[i] * x[i];
    err += d * d;
  }
  const sqnrDb = err === 0 ? Infinity : 10 * Math.log10(sig / err);
  return { maxAbsErr, mse: x.length ? err / x.length : 0, sqnrDb };
}

// ---- absmax int8 ---------------------------------------------------------------------------------

export type AbsmaxGranularity = 'tensor' | 'row' | 'token'; // 'token' = 'row' of an activation (M, K)

export interface AbsmaxInt8 {
  rows: number;
  cols: number;
  granularity: AbsmaxGranularity;
  q: Int8Array; // (rows, cols), in [−127, 127]
  /** Multipliers s = 127 / max|x| (f32): one for 'tensor', (rows) otherwise. x̂ = q / s. All-zero slice: s = 1. */
  s: Float32Array;
}

/** s = 127 / max|x|, q = round(x · s) (half to even, f32 product), per tensor or per row/token. */
export function absmaxInt8(
  x: Float32Array,
  rows: number,
  cols: number,
  granularity: AbsmaxGranularity,
): AbsmaxInt8 & ErrorStats {
  if (!(rows >= 1 && cols >= 1) || x.length !== rows * cols)
    throw new NibbleError('bad-argument', `absmaxInt8: ${x.length} values for a ${rows}×${cols} matrix`);
  const perRow = granularity !== 'tensor';
  const s = new Float32Array(perRow ? rows : 1);
  const multiplier = (start: number, end: number): number => {
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(x[i]));
    if (!Number.isFinite(m)) throw new NibbleError('bad-argument', 'absmaxInt8: non-finite value');
    return m === 0 ? 1 : f32(127 / m);
  };
  if (perRow) for (let r = 0; r < rows; r++) s[r] = multiplier(r * cols, (r + 1) * cols);
  else s[0] = multiplier(0, x.length);
  const q = new Int8Array(rows * cols);
  for (let i = 0; i < q.length; i++)
    q[i] = clamp(roundHalfEven(f32(x[i] * s[perRow ? Math.floor(i / cols) : 0])), -127, 127);
  const xhat = dequantizeAbsmaxInt8({ rows, cols, granularity, q, s });
  return { rows, cols, granularity, q, s, ...errorStats(x, xhat) };
}

/** x̂ = q / s in f32. */
export function dequantizeAbsmaxInt8(a: AbsmaxInt8): Float32Array {
  const out = new Float32Array(a.q.length);
  const perRow = a.granularity !== 'tensor';
  for (let i = 0; i < out.length; i++) out[i] = f32(a.q[i] / a.s[perRow ? Math.floor(i / a.cols) : 0]);
  return out;
}
