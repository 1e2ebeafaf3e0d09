// One progress tracker per load (or inspect): every byte read from any file of the source is
// counted here, and LoadProgress is posted at most every `intervalMs` (≈ 10 Hz) with an ETA from
// an exponentially smoothed read rate. bytesDone never goes down and never passes bytesTotal
// (bytes read twice, e.g. a header prefix that overlaps tensor data, are clamped); finish()
// posts bytesDone = bytesTotal.
import type { LoadProgress } from '../engine-host/protocol.ts';

export type LoadPhase = LoadProgress['phase'];

export interface ProgressOptions {
  now?: () => number;
  intervalMs?: number;
  /** False for an inspect: it reads headers only, so file sizes are no total (0 = unknown until finish). */
  totals?: boolean;
}

/** Weight of the newest rate sample in the smoothed rate. */
const SMOOTHING = 0.3;

export class ProgressTracker {
  private done = 0;
  private total = 0;
  private phase: LoadPhase = 'headers';
  private file = '';
  private lastPost = -Infinity;
  private lastSample: { t: number; done: number } | null = null;
  private rate: number | null = null; // bytes per ms, smoothed
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly totals: boolean;

  constructor(
    private readonly post: (p: LoadProgress) => void,
    opts: ProgressOptions = {},
  ) {
    this.now = opts.now ?? (() => globalThis.performance.now());
    this.intervalMs = opts.intervalMs ?? 100;
    this.totals = opts.totals ?? true;
  }

  get bytesDone(): number {
    return this.done;
  }

  get bytesTotal(): number {
    return this.total;
  }

  /** Bytes the source will read grew (a file was found); 0 = unknown. */
  addTotal(bytes: number): void {
    if (this.totals) this.total += bytes;
  }

  /** `bytes` more were read from `file` in `phase`. */
  add(bytes: number, phase: LoadPhase, file: string): void {
    this.done = this.total > 0 ? Math.min(this.total, this.done + bytes) : this.done + bytes;
    this.phase = phase;
    this.file = file;
    const t = this.now();
    if (!this.lastSample) this.lastSample = { t, done: this.done };
    else if (t - this.lastSample.t >= 50) {
      const r = (this.done - this.lastSample.done) / (t - this.lastSample.t);
      this.rate = this.rate === null ? r : SMOOTHING * r + (1 - SMOOTHING) * this.rate;
      this.lastSample = { t, done: this.done };
    }
    if (t - this.lastPost >= this.intervalMs) this.emit(t);
  }

  /** Posts the end state (done = total), whatever the throttle. */
  finish(): void {
    if (this.total < this.done) this.total = this.done;
    this.done = this.total;
    this.emit(this.now());
  }

  private emit(t: number): void {
    this.lastPost = t;
    const left = this.total - this.done;
    const etaMs =
      this.total > 0 && this.rate !== null && this.rate > 0
        ? Math.round(left / this.rate)
        : this.total > 0 && left === 0
          ? 0
          : null;
    this.post({
      kind: 'load',
      phase: this.phase,
      file: this.file,
      bytesDone: this.done,
      bytesTotal: this.total,
      etaMs,
    });
  }
}
