// Small buffer helpers: create, upload, read back, and the size check against device limits.
// GPUBufferUsage is read inside functions, not at import time: in Node the globals exist only
// after src/cli/dawn.ts has installed them.
import { NibbleError } from '../core/errors.ts';
import { gpuBufferBytes } from '../core/plan/memory-plan.ts';
import type { GpuContext } from './device.ts';

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * Throws 'too-large' unless a storage buffer of `bytes` fits this device. Weights larger than one
 * binding never get here whole: src/gpu/weights.ts splits them by rows first.
 */
export function checkFits(ctx: GpuContext, bytes: number, what: string): void {
  const { maxBufferSize, maxStorageBufferBindingSize } = ctx.limits;
  const cap = Math.min(maxBufferSize, maxStorageBufferBindingSize);
  if (bytes > cap) {
    throw new NibbleError(
      'too-large',
      `${what} needs ${MiB(bytes)} in one buffer; this GPU allows ${MiB(cap)} (maxStorageBufferBindingSize ${MiB(maxStorageBufferBindingSize)}, maxBufferSize ${MiB(maxBufferSize)}). Use a smaller model or a quantized variant.`,
    );
  }
}

const storageUsage = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
/** Buffer sizes are padded to 4 bytes and at least 16 (WebGPU needs 4-byte multiples); the memory plan counts the same. */
const round4 = (bytes: number): number => Math.ceil(bytes / 4) * 4;
const padded = gpuBufferBytes;

/** A zero-filled storage buffer (STORAGE | COPY_SRC | COPY_DST). */
export function createStorage(ctx: GpuContext, bytes: number, label: string): GPUBuffer {
  checkFits(ctx, bytes, label);
  return ctx.device.createBuffer({ label, size: padded(bytes), usage: storageUsage() });
}

/** A storage buffer holding `data` (or the concatenation of `parts`), written at creation. */
export function uploadStorage(
  ctx: GpuContext,
  data: Float32Array | Uint32Array | readonly (Float32Array | Uint32Array)[],
  label: string,
): GPUBuffer {
  const parts = ArrayBuffer.isView(data) ? [data] : data;
  const bytes = parts.reduce((s, p) => s + p.byteLength, 0);
  checkFits(ctx, bytes, label);
  const buf = ctx.device.createBuffer({ label, size: padded(bytes), usage: storageUsage(), mappedAtCreation: true });
  const dst = new Uint8Array(buf.getMappedRange());
  let off = 0;
  for (const p of parts) {
    dst.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), off);
    off += p.byteLength;
  }
  buf.unmap();
  return buf;
}

/** A mappable buffer to copy results into (MAP_READ | COPY_DST). */
export function createReadback(ctx: GpuContext, bytes: number, label: string): GPUBuffer {
  return ctx.device.createBuffer({
    label,
    size: padded(bytes),
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
}

/** Maps a readback buffer and copies out its first `bytes` (the buffer is unmapped again). */
export async function mapRead(buf: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
  await buf.mapAsync(GPUMapMode.READ, 0, round4(bytes));
  try {
    return buf.getMappedRange(0, round4(bytes)).slice(0, bytes);
  } finally {
    buf.unmap();
  }
}

/** Copies `bytes` of `src` (from `offset`) to the CPU through a temporary staging buffer. */
export async function readBuffer(ctx: GpuContext, src: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const staging = createReadback(ctx, bytes, `${src.label}-readback`);
  try {
    const enc = ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, offset, staging, 0, round4(bytes));
    ctx.device.queue.submit([enc.finish()]);
    return await mapRead(staging, bytes);
  } finally {
    staging.destroy();
  }
}

export const readF32 = async (ctx: GpuContext, src: GPUBuffer, n: number, offset = 0): Promise<Float32Array> =>
  new Float32Array(await readBuffer(ctx, src, n * 4, offset * 4));

/**
 * Copies several buffers (`words` 32-bit values from word `offset`, default 0) to the CPU
 * through one staging buffer and one map.
 */
export async function readBuffers(
  ctx: GpuContext,
  parts: readonly (readonly [buf: GPUBuffer, words: number, offset?: number])[],
): Promise<Uint32Array[]> {
  const offsets: number[] = [];
  let total = 0;
  for (const [, words] of parts) {
    offsets.push(total);
    total += Math.max(1, words);
  }
  const staging = createReadback(ctx, total * 4, 'readback');
  try {
    const enc = ctx.device.createCommandEncoder();
    parts.forEach(([buf, words, offset = 0], i) => {
      if (words > 0) enc.copyBufferToBuffer(buf, offset * 4, staging, offsets[i] * 4, words * 4);
    });
    ctx.device.queue.submit([enc.finish()]);
    const all = new Uint32Array(await mapRead(staging, total * 4));
    return parts.map(([, words], i) => all.slice(offsets[i], offsets[i] + words));
  } finally {
    staging.destroy();
  }
}
