// Wrappers of the RTN (uniform) and absmax-int8 kernels: validate shapes → bind → dispatch.
// Uniform quantization is three dispatches (quant_range → quant_params → quant_pack) whose
// output is the packed layout of src/core/quant/format.ts; bit-identical to quantizeTensor.
import { wordsPerRow, type PackBits } from '../core/quant/packing.ts';
import { fail, groupsFor, holds, positive } from './checks.ts';
import type { Recorder } from './recorder.ts';

export interface UniformDims {
  rows: number; // out
  cols: number; // in
  group: number; // G (= cols for 'row' and 'tensor')
  bits: number; // fitted bits, 2..8 (maxq = 2^bits − 1)
  container: PackBits; // packed code width (= bits, or 8 for 5–7-bit codes)
  sym: boolean; // symmetric fit: zero = 2^(bits−1)
  f16: boolean; // fp16 scales (pairs)
  writeZeros: boolean; // store zero points (asymmetric containers)
  tensor: boolean; // one (scale, zero) for the whole tensor, replicated per row
}

export interface UniformBuffers {
  w: GPUBuffer; // (rows, cols) f32
  ranges: GPUBuffer; // scratch (rows · nGroups, 2) u32
  scales: GPUBuffer; // (rows · nGroups) f32, or ⌈…/2⌉ fp16 pair words
  zeros: GPUBuffer; // ⌈rows · nGroups / 4⌉ words (any buffer when !writeZeros)
  data: GPUBuffer; // (rows, wordsPerRow(container, cols))
  status: GPUBuffer; // ≥ 1 word, zeroed: bit 0 non-finite weight, bit 1 fp16 scale overflow
}

export const nGroupsOf = (d: Pick<UniformDims, 'cols' | 'group'>): number => Math.ceil(d.cols / d.group);

/** Words of the packed outputs for these dims: [data, scales, zeros]. */
export function uniformSizes(d: UniformDims): { data: number; scales: number; zeros: number; ranges: number } {
  const n = d.rows * nGroupsOf(d);
  return {
    data: d.rows * wordsPerRow(d.container, d.cols),
    scales: d.f16 ? Math.ceil(n / 2) : n,
    zeros: d.writeZeros ? Math.ceil(n / 4) : 0,
    ranges: 2 * (d.tensor ? d.rows : n),
  };
}

function check(d: UniformDims): void {
  positive('quantUniform', ['rows', d.rows], ['cols', d.cols], ['group', d.group]);
  if (!Number.isInteger(d.bits) || d.bits < 2 || d.bits > d.container)
    fail(`quantUniform: ${d.bits}-bit codes do not fit a ${d.container}-bit container`);
  if (d.group > d.cols) fail(`quantUniform: group ${d.group} > cols ${d.cols}`);
  if (d.tensor && d.group !== d.cols) fail('quantUniform: tensor granularity needs group = cols');
}

/** Records the three uniform-quantization dispatches. */
export function quantUniform(rec: Recorder, d: UniformDims, b: UniformBuffers): void {
  check(d);
  const nGroups = nGroupsOf(d);
  const n = d.rows * nGroups;
  const sz = uniformSizes(d);
  holds('quantUniform w', b.w, d.rows * d.cols);
  holds('quantUniform ranges', b.ranges, sz.ranges);
  holds('quantUniform scales', b.scales, sz.scales);
  holds('quantUniform zeros', b.zeros, sz.zeros);
  holds('quantUniform data', b.data, sz.data);
  holds('quantUniform status', b.status, 1);
  rec.dispatch('quant_range', {
    buffers: [b.w, b.ranges, b.status],
    params: { rows: d.rows, cols: d.cols, G: d.group, n_groups: nGroups },
    workgroups: groupsFor(rec, n),
  });
  rec.dispatch('quant_params', {
    buffers: [b.ranges, b.scales, b.zeros, b.status],
    params: { n, bits: d.bits, sym: +d.sym, f16: +d.f16, write_zeros: +d.writeZeros, tensor: +d.tensor },
    workgroups: groupsFor(rec, Math.ceil(n / 4)),
  });
  const wpr = wordsPerRow(d.container, d.cols);
  const units = d.container === 3 ? wpr / 3 : wpr;
  rec.dispatch('quant_pack', {
    constants: { BITS: d.container },
    buffers: [b.w, b.scales, d.writeZeros ? b.zeros : b.scales, b.data],
    params: {
      rows: d.rows,
      cols: d.cols,
      G: d.group,
      n_groups: nGroups,
      wpr,
      units,
      bits: d.bits,
      f16: +d.f16,
      has_zeros: +d.writeZeros,
    },
    workgroups: groupsFor(rec, d.rows * units),
  });
}

/** LLM.int8 weight: per-row absmax int8, 4 two's-complement bytes per word; scale = a / 127. */
export function quantInt8Rows(
  rec: Recorder,
  a: { w: GPUBuffer; data: GPUBuffer; scales: GPUBuffer; status: GPUBuffer; rows: number; cols: number },
): void {
  positive('quantInt8Rows', ['rows', a.rows], ['cols', a.cols]);
  const wpr = Math.ceil(a.cols / 4);
  holds('quantInt8Rows w', a.w, a.rows * a.cols);
  holds('quantInt8Rows data', a.data, a.rows * wpr);
  holds('quantInt8Rows scales', a.scales, a.rows);
  holds('quantInt8Rows status', a.status, 1);
  rec.dispatch('quant_int8_rows', {
    buffers: [a.w, a.data, a.scales, a.status],
    params: { rows: a.rows, cols: a.cols, wpr },
    workgroups: rec.grid(a.rows),
  });
}
