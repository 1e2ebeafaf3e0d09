// Accuracy-vs-fraction-bits curves: a sweep over k for one or both modes, built on the lab's
// cache (points already evaluated — by the slider or an earlier sweep — cost nothing), with a
// callback per finished point and cancellation between points and between batches.

import { NibbleError } from '../../core/errors.ts';
import { throwIfAborted } from './classifier.ts';
import type { TruncMode, VisionLab, VisionResult } from './lab.ts';

export const ALL_BITS: readonly number[] = Array.from({ length: 24 }, (_, k) => k); // 0..23

export interface CurvePoint {
  k: number;
  mode: TruncMode;
  accuracy: number;
  correct: number;
  seconds: number; // time the evaluation took when it ran
  cached: boolean; // true when the lab already had this point before the sweep
}

export interface SweepOptions {
  modes?: readonly TruncMode[]; // default ['truncate']
  bits?: readonly number[]; // default 0..23, evaluated in the order given
  signal?: AbortSignal; // abort → rejects with NibbleError('cancelled'); finished points stay cached
  /** After each point: the point, and how many of the sweep's points are done. */
  onPoint?: (point: CurvePoint, done: number, total: number) => void;
  /** Within a point: images classified so far. */
  onProgress?: (point: { k: number; mode: TruncMode }, images: number, totalImages: number) => void;
}

/** Evaluates every (mode, k); returns the points in sweep order (modes outer, bits inner). */
export async function sweepTruncationCurve(lab: VisionLab, opt: SweepOptions = {}): Promise<CurvePoint[]> {
  const modes = opt.modes ?? ['truncate'];
  const bits = opt.bits ?? ALL_BITS;
  if (modes.length === 0 || bits.length === 0)
    throw new NibbleError('bad-argument', 'a sweep needs at least one mode and one bit width');
  const total = modes.length * bits.length;
  const points: CurvePoint[] = [];
  for (const mode of modes) {
    for (const k of bits) {
      throwIfAborted(opt.signal);
      const cached = lab.cached(k, mode) !== undefined;
      const r: VisionResult = await lab.evaluateTruncated(k, mode, {
        signal: opt.signal,
        onProgress: opt.onProgress && ((done, n) => opt.onProgress!({ k, mode }, done, n)),
      });
      const p: CurvePoint = { k, mode, accuracy: r.accuracy, correct: r.correct, seconds: r.seconds, cached };
      points.push(p);
      opt.onPoint?.(p, points.length, total);
    }
  }
  return points;
}
