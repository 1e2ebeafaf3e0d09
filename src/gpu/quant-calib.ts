// Wrapper of GPU calibration's statistics kernel (GPTQ's Hessian accumulation is hessianAccum in
// quant-cholesky.ts): per-column running max |x| of activation rows left on the GPU by a forward.
import { groupsFor, holds, positive } from './checks.ts';
import type { Recorder } from './recorder.ts';

export interface AbsMaxColsArgs {
  x: GPUBuffer; // (rows, K) f32 from element xOff
  xOff?: number;
  acc: GPUBuffer; // (K) f32 running maxima, zeroed before the first call
  K: number;
  rows: number;
}

/** acc[c] = max(acc[c], max_r |x[r, c]|), exact (≡ core accumulateAbsMax). */
export function absMaxCols(rec: Recorder, a: AbsMaxColsArgs): void {
  const xOff = a.xOff ?? 0;
  positive('absMaxCols', ['K', a.K], ['rows', a.rows]);
  holds('absMaxCols x', a.x, xOff + a.rows * a.K);
  holds('absMaxCols acc', a.acc, a.K);
  rec.dispatch('absmax_cols', {
    buffers: [a.x, a.acc],
    params: { K: a.K, rows: a.rows, x_off: xOff },
    workgroups: groupsFor(rec, a.K),
  });
}
