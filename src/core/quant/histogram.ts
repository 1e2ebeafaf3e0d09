// Bucket collisions of a uniform quantized tensor: how many weights share each code, and how
// many lay outside the grid and were clamped to 0 or maxq. CPU twin of the histogram_codes
// kernel (shaders/quant/histogram_codes.wgsl).

import type { UniformQuantTensor } from '../tensor.ts';
import { NibbleError } from '../errors.ts';
import { UNIFORM_BITS, unpackScales, unpackZeros } from './format.ts';
import { unpackRows } from './packing.ts';
import { roundHalfEven } from './rounding.ts';

export interface CodeHistogram {
  counts: Uint32Array; // (2^containerBits) weights per code
  clippedLow: number; // weights whose unclamped code round(w / scale) + zero < 0 (0 without w)
  clippedHigh: number; // … > maxq (0 without w)
}

/**
 * Histogram of t's codes. With the f32 weights `w` (rows, cols) it also counts the clipped ones,
 * against maxq = 2^bits − 1 (`bits` defaults to the container's: pass the fitted bits for 5–7-bit
 * codes in q8 containers). Column c uses group gIdx[c] when t has one, else ⌊c / group⌋.
 */
export function codeHistogram(
  t: UniformQuantTensor,
  w?: Float32Array,
  bits: number = UNIFORM_BITS[t.format],
): CodeHistogram {
  const [rows, cols] = t.shape;
  const container = UNIFORM_BITS[t.format];
  const codes = unpackRows(t.buffers.data, rows, cols, container);
  const counts = new Uint32Array(2 ** container);
  for (const q of codes) counts[q]++;
  let clippedLow = 0;
  let clippedHigh = 0;
  if (w) {
    if (w.length !== rows * cols)
      throw new NibbleError('bad-argument', `codeHistogram: ${w.length} weights for a ${rows}×${cols} tensor`);
    const scales = unpackScales(t);
    const zeros = unpackZeros(t);
    const nGroups = Math.ceil(cols / t.group);
    const gIdx = t.buffers.gIdx;
    const mq = 2 ** bits - 1;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const g = r * nGroups + (gIdx ? gIdx[c] : Math.floor(c / t.group));
        const q = roundHalfEven(Math.fround(w[r * cols + c] / scales[g])) + zeros[g];
        if (q < 0) clippedLow++;
        else if (q > mq) clippedHigh++;
      }
    }
  }
  return { counts, clippedLow, clippedHigh };
}
