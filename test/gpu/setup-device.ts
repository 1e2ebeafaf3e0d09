// Shared setup for GPU tests: one Dawn instance per test process (forks pool), devices
// created in beforeAll, and small helpers to upload, run, read back and compare.
// The Dawn instance lives in src/cli/dawn.ts at module level and is never released (see the
// lifetime rule there); this module keeps the devices it made for the life of the process.
import { expect } from 'vitest';
import { createNodeGpu } from '../../src/cli/dawn.ts';
import { readF32, uploadStorage, createStorage } from '../../src/gpu/buffers.ts';
import { requestGpuContext, type GpuContext, type GpuOptions } from '../../src/gpu/device.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { mulberry32 } from '../../src/core/random.ts';

const contexts = new Map<string, Promise<GpuContext>>(); // kept for the process lifetime

/** A device for tests; the same options give the same device within one test file. */
export function gpuContext(opts: GpuOptions = {}): Promise<GpuContext> {
  const key = JSON.stringify(opts);
  let c = contexts.get(key);
  if (!c) {
    c = createNodeGpu().then((gpu) => requestGpuContext(gpu, opts));
    contexts.set(key, c);
  }
  return c;
}

/** Records with a fresh Recorder, submits once, and fails the test on any validation error. */
export async function run(ctx: GpuContext, record: (rec: Recorder) => void): Promise<Recorder> {
  const rec = new Recorder(ctx);
  ctx.device.pushErrorScope('validation');
  record(rec);
  rec.submit();
  const err = await ctx.device.popErrorScope();
  expect(err?.message ?? null).toBeNull();
  return rec;
}

export const upload = (ctx: GpuContext, data: Float32Array | Uint32Array, label = 'test'): GPUBuffer =>
  uploadStorage(ctx, data, label);
export const zeros = (ctx: GpuContext, floats: number, label = 'out'): GPUBuffer =>
  createStorage(ctx, floats * 4, label);
export const read = (ctx: GpuContext, buf: GPUBuffer, n: number, offset = 0): Promise<Float32Array> =>
  readF32(ctx, buf, n, offset);

export const rng = mulberry32;

/** n values uniform in [-scale, scale). */
export function randomF32(rand: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
}

/**
 * Elementwise |got − want| <= atol + rtol·|want|. On failure names the worst index, so a
 * broken kernel shows where it broke.
 */
export function expectClose(
  got: Float32Array,
  want: ArrayLike<number>,
  tol: { atol: number; rtol: number },
  what: string,
): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - (tol.atol + tol.rtol * Math.abs(want[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what}: index ${worst} got ${got[worst]}, want ${want[worst]} (|diff| ${Math.abs(got[worst] - want[worst]).toExponential(2)} > atol ${tol.atol} + rtol ${tol.rtol}·|want|)`,
    );
  }
}
