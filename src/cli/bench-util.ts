// Shared pieces of `nibble bench`: statistics, a seeded PRNG, the bench's GPU context (the
// runner's device plus 'timestamp-query' when the adapter has it), and a timer that replays
// captured dispatches many times in ONE compute pass and ONE submit, timed by GPU timestamps
// at the pass's start and end when available, and by the wall clock around submit →
// onSubmittedWorkDone always. Captured dispatches are bound by the one Recorder
// (src/gpu/recorder.ts): the same pipelines, params arena and bind groups as the runner's.
import { requestGpuContext, type GpuContext, type GpuOptions } from '../gpu/device.ts';
import type { KernelName } from '../gpu/kernel-table.ts';
import type { Sink } from '../gpu/matmul-quant.ts';
import { Recorder, type Bound, type Dispatch } from '../gpu/recorder.ts';
import { createNodeGpu } from './dawn.ts';
import { mulberry32 } from '../core/random.ts';

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** x rounded to `digits` decimals (for the report). */
export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
/** x to `digits` significant digits (rates and ratios that span 0.001 … 1000s). */
export const sig = (x: number, digits = 3): number => Number(x.toPrecision(digits));

export const rng = mulberry32;

/** n values uniform in [−scale, scale). */
export function randomF32(rand: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/** n random u32 words (e.g. packed codes: every code uniform). */
export function randomWords(rand: () => number, n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 4294967296) >>> 0;
  return a;
}

/**
 * The runner's own device (requestGpuContext: same features, limits and kernel choice) with
 * 'timestamp-query' added to the device request when the adapter offers it. Only the bench's
 * timer uses the query set; no kernel changes.
 */
export async function createBenchGpuContext(opts: GpuOptions = {}): Promise<GpuContext> {
  const gpu = await createNodeGpu();
  const withTimestamps = (a: GPUAdapter): GPUAdapter => {
    const extra: GPUFeatureName[] = a.features.has('timestamp-query') ? ['timestamp-query'] : [];
    return {
      get info() {
        return a.info;
      },
      get features() {
        return a.features;
      },
      get limits() {
        return a.limits;
      },
      requestDevice: (d?: GPUDeviceDescriptor) =>
        a.requestDevice({ ...d, requiredFeatures: [...(d?.requiredFeatures ?? []), ...extra] }),
    } as GPUAdapter;
  };
  const wrapped = {
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    requestAdapter: async (o?: GPURequestAdapterOptions) => {
      const a = await gpu.requestAdapter(o);
      return a && withTimestamps(a);
    },
  } as GPU;
  return requestGpuContext(wrapped, opts);
}

/** One dispatch ready to be replayed: pipeline, bind group (params at dynamic offset), grid. */
export type Replay = Bound;

/**
 * A Sink for src/gpu/kernels.ts dispatchMatmul (the runner's one kernel switch) and for the
 * bench's own kernels that binds each dispatch through a Recorder and keeps it for replay
 * instead of recording it. Call ready() before timing the replays.
 */
export class CaptureSink implements Sink {
  readonly replays: Replay[] = [];
  private readonly rec: Recorder;

  constructor(readonly ctx: GpuContext) {
    this.rec = new Recorder(ctx);
  }

  grid(count: number): [number, number] {
    return this.rec.grid(count);
  }

  dispatch(kernel: KernelName, d: Dispatch): void {
    this.replays.push(this.rec.bind(kernel, d));
  }

  /** Writes the captured params to the GPU; the replays are usable from here on. */
  ready(): readonly Replay[] {
    this.rec.writeParams();
    return this.replays;
  }

  dispose(): void {
    this.rec.dispose();
  }
}

export interface Timing {
  usPerCall: number; // median over trials: timestamps when available, else wall clock
  wallUsPerCall: number; // median over trials of (submit → onSubmittedWorkDone) / reps
  gpuUsPerCall: number | null; // median over trials of (end − start timestamp of the pass) / reps
  reps: number; // calls per trial, all in one compute pass and one submit
  trials: number;
}

/** Times replays of captured dispatches (see the header). */
export class GpuTimer {
  private readonly query: { set: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer } | null;
  readonly method: string;

  constructor(private readonly ctx: GpuContext) {
    const d = ctx.device;
    this.query = d.features.has('timestamp-query')
      ? {
          set: d.createQuerySet({ type: 'timestamp', count: 2 }),
          resolve: d.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
          read: d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
        }
      : null;
    this.method = this.query
      ? 'timestamp-query: pass start/end around `reps` back-to-back calls in one compute pass, ÷ reps; median of trials'
      : 'wall clock: submit → onSubmittedWorkDone around `reps` back-to-back calls in one compute pass, ÷ reps; median of trials (no timestamp-query)';
  }

  /** One submit of `reps` × the replays; milliseconds by wall clock and by timestamps. */
  async once(replays: readonly Replay[], reps: number): Promise<{ wallMs: number; gpuMs: number | null }> {
    const d = this.ctx.device;
    const q = this.query;
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass(
      q ? { timestampWrites: { querySet: q.set, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
    );
    for (let r = 0; r < reps; r++) {
      for (const p of replays) {
        pass.setPipeline(p.pipeline);
        pass.setBindGroup(0, p.bindGroup, [p.offset]);
        const [x, y = 1, z = 1] = p.workgroups;
        pass.dispatchWorkgroups(x, y, z);
      }
    }
    pass.end();
    if (q) {
      enc.resolveQuerySet(q.set, 0, 2, q.resolve, 0);
      enc.copyBufferToBuffer(q.resolve, 0, q.read, 0, 16);
    }
    const t0 = performance.now();
    d.queue.submit([enc.finish()]);
    await d.queue.onSubmittedWorkDone();
    const wallMs = performance.now() - t0;
    if (!q) return { wallMs, gpuMs: null };
    await q.read.mapAsync(GPUMapMode.READ);
    const [start, end] = new BigInt64Array(q.read.getMappedRange().slice(0));
    q.read.unmap();
    const gpuMs = end > start ? Number(end - start) / 1e6 : null; // 0 or negative: unusable
    return { wallMs, gpuMs };
  }

  /**
   * Warm-up call (pipelines, first-touch), then reps chosen so one trial takes about
   * `targetMs` (between 1 and maxReps), then `trials` timed submits.
   */
  async time(replays: readonly Replay[], o: { targetMs: number; maxReps: number; trials: number }): Promise<Timing> {
    const warm = await this.once(replays, 1);
    const est = Math.max(warm.gpuMs ?? warm.wallMs, 1e-3);
    const reps = Math.max(1, Math.min(o.maxReps, Math.round(o.targetMs / est)));
    const wall: number[] = [];
    const gpu: number[] = [];
    for (let t = 0; t < o.trials; t++) {
      const r = await this.once(replays, reps);
      wall.push((r.wallMs * 1000) / reps);
      if (r.gpuMs !== null) gpu.push((r.gpuMs * 1000) / reps);
    }
    const gpuUs = gpu.length === o.trials ? median(gpu) : null;
    const wallUs = median(wall);
    return {
      usPerCall: round(gpuUs ?? wallUs, 2),
      wallUsPerCall: round(wallUs, 2),
      gpuUsPerCall: gpuUs === null ? null : round(gpuUs, 2),
      reps,
      trials: o.trials,
    };
  }

  dispose(): void {
    if (!this.query) return;
    this.query.set.destroy();
    this.query.resolve.destroy();
    this.query.read.destroy();
  }
}
