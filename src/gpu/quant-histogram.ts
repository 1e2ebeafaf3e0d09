// Wrapper of histogram_codes: code counts of a packed uniform tensor plus clipped-at-ends counts.
// CPU twin: src/core/quant/histogram.ts codeHistogram.
import type { PackBits } from '../core/quant/packing.ts';
import { wordsPerRow } from '../core/quant/packing.ts';
import { fail, holds, positive } from './checks.ts';
import type { Recorder } from './recorder.ts';

export const HISTOGRAM_WORDS = 258; // out: 256 code bins, clipped low, clipped high

export interface HistogramArgs {
  data: GPUBuffer; // (rows, wordsPerRow(container, cols)) packed codes
  out: GPUBuffer; // (258) u32, zeroed by the caller (counts accumulate)
  rows: number;
  cols: number;
  container: PackBits;
  /** For clipped counts: w (rows, cols) f32, scales (rows · nGroups) f32, zeros (rows · nGroups) u32. */
  clip?: { w: GPUBuffer; scales: GPUBuffer; zeros: GPUBuffer; group: number; bits: number; gIdx?: GPUBuffer };
}

export function histogram(rec: Recorder, a: HistogramArgs): void {
  positive('histogram', ['rows', a.rows], ['cols', a.cols]);
  const wpr = wordsPerRow(a.container, a.cols);
  holds('histogram data', a.data, a.rows * wpr);
  holds('histogram out', a.out, HISTOGRAM_WORDS);
  const c = a.clip;
  let nGroups = 1;
  if (c) {
    positive('histogram', ['group', c.group]);
    if (c.bits < 2 || c.bits > a.container) fail(`histogram: ${c.bits}-bit codes in a ${a.container}-bit container`);
    nGroups = Math.ceil(a.cols / c.group);
    holds('histogram w', c.w, a.rows * a.cols);
    holds('histogram scales', c.scales, a.rows * nGroups);
    holds('histogram zeros', c.zeros, a.rows * nGroups);
    if (c.gIdx) holds('histogram gIdx', c.gIdx, a.cols);
  }
  rec.dispatch('histogram_codes', {
    constants: { BITS: a.container },
    buffers: [a.data, c?.w ?? a.data, c?.scales ?? a.data, c?.zeros ?? a.data, c?.gIdx ?? a.data, a.out],
    params: {
      rows: a.rows,
      cols: a.cols,
      wpr,
      G: c?.group ?? a.cols,
      n_groups: nGroups,
      bits: c?.bits ?? a.container,
      has_w: c ? 1 : 0,
      has_gidx: c?.gIdx ? 1 : 0,
    },
    workgroups: rec.grid(Math.ceil((a.rows * a.cols) / 256)),
  });
}
