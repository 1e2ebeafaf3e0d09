// The one recorder of kernel dispatches (runner, quantizers, histogram, bench): records one
// command buffer, a compute pass of dispatches with copies and clears in between, then ONE
// submit. Each dispatch's params go into a slot of a uniform "arena" (bound at a dynamic
// offset), so a command buffer can hold any number of dispatches with different params and
// the arena is written with one queue.writeBuffer per page just before the submit.
// Pipelines come from ctx.pipelines (the kernel table's cache); bind groups are cached by
// (kernel, arena page, buffers), so steady-state decode creates none. Counts dispatches and
// submits. Reusable after submit (queue order keeps the arena safe).
import { NibbleError } from '../core/errors.ts';
import type { GpuContext } from './device.ts';
import { PARAM_BYTES, kernelSpec, type Constants, type KernelName } from './kernel-table.ts';

const SLOTS_PER_PAGE = 256;
/** Bind groups kept at most; past it the cache starts over (quantizers bind fresh buffers per tensor). */
const MAX_BIND_GROUPS = 4096;

let nextBufferId = 1;
const bufferIds = new WeakMap<GPUBuffer, number>();
const bufferId = (b: GPUBuffer): number => {
  let id = bufferIds.get(b);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(b, id);
  }
  return id;
};

export interface Dispatch {
  constants?: Constants;
  buffers: readonly GPUBuffer[]; // bindings 1..n, in the kernel's order
  params: Readonly<Record<string, number>>; // every field of the kernel's Params struct
  workgroups: readonly [number, number?, number?];
}

/** A dispatch bound but not encoded: what a caller that encodes it itself needs (the bench). */
export interface Bound {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup; // params at dynamic offset `offset`
  offset: number;
  workgroups: readonly [number, number?, number?];
}

interface Page {
  buffer: GPUBuffer;
  words: ArrayBuffer; // CPU copy of the page
}

export class Recorder {
  readonly counters = { dispatches: 0, submits: 0 };
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly pages: Page[] = [];
  private used = 0; // params slots used by the command buffer being recorded
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly stride: number; // bytes between slots

  constructor(readonly ctx: GpuContext) {
    const align = ctx.limits.minUniformBufferOffsetAlignment;
    this.stride = Math.ceil(PARAM_BYTES / align) * align;
  }

  /**
   * (x, y) grid of `count` workgroups (at least 1); kernels use id = y · num_workgroups.x + x.
   * Throws NibbleError 'too-large' past the device's max² workgroups.
   */
  grid(count: number): [number, number] {
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const n = Math.max(1, count);
    if (n <= max) return [n, 1];
    const y = Math.ceil(n / max);
    if (y > max) throw new NibbleError('too-large', `${n} workgroups exceed the device's ${max}² grid`);
    return [Math.ceil(n / y), y];
  }

  /** Records one dispatch of `kernel` into the compute pass. */
  dispatch(kernel: KernelName, d: Dispatch): void {
    const b = this.bind(kernel, d);
    const pass = this.computePass();
    pass.setPipeline(b.pipeline);
    pass.setBindGroup(0, b.bindGroup, [b.offset]);
    const [x, y = 1, z = 1] = b.workgroups;
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
  }

  /**
   * Writes the params of one dispatch into the arena and returns its pipeline and bind group
   * without encoding it. The slot stays valid until the next submit() or discard(); call
   * writeParams() before encoding it yourself.
   */
  bind(kernel: KernelName, d: Dispatch): Bound {
    const spec = kernelSpec(kernel);
    if (d.buffers.length !== spec.buffers.length) {
      throw new Error(`${kernel}: ${d.buffers.length} buffers given, ${spec.buffers.length} expected`);
    }
    const slot = this.used++;
    const page = this.page(Math.floor(slot / SLOTS_PER_PAGE));
    const offset = (slot % SLOTS_PER_PAGE) * this.stride;
    const view = new DataView(page.words, offset, PARAM_BYTES);
    spec.params.forEach((field, i) => {
      const [name, type] = field.split(':');
      const v = d.params[name];
      if (v === undefined || !Number.isFinite(v)) throw new Error(`${kernel}: param ${name} is ${v}`);
      if (type === 'f32') view.setFloat32(4 * i, v, true);
      else if (type === 'i32') view.setInt32(4 * i, v, true);
      else view.setUint32(4 * i, v, true);
    });
    return {
      pipeline: this.ctx.pipelines.get(kernel, d.constants),
      bindGroup: this.bindGroup(kernel, page.buffer, d.buffers),
      offset,
      workgroups: d.workgroups,
    };
  }

  /** Records a buffer copy after the dispatches so far (ends the compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records a zero fill of `bytes` (a multiple of 4; default all) of `buf`. */
  clear(buf: GPUBuffer, bytes?: number): void {
    this.endPass();
    this.commandEncoder().clearBuffer(buf, 0, bytes);
  }

  /** Writes the params of every slot used since the last submit to the GPU (queue order). */
  writeParams(): void {
    const queue = this.ctx.device.queue;
    for (let p = 0; p * SLOTS_PER_PAGE < this.used; p++) {
      const slots = Math.min(SLOTS_PER_PAGE, this.used - p * SLOTS_PER_PAGE);
      queue.writeBuffer(this.pages[p].buffer, 0, this.pages[p].words, 0, slots * this.stride);
    }
  }

  /** Writes the params arena and submits everything recorded as one command buffer. */
  submit(): void {
    this.endPass();
    const enc = this.commandEncoder();
    this.writeParams();
    this.ctx.device.queue.submit([enc.finish()]);
    this.encoder = null;
    this.used = 0;
    this.counters.submits++;
  }

  /** Drops whatever was recorded since the last submit (after an error mid-recording). */
  discard(): void {
    this.pass?.end();
    this.pass = null;
    this.encoder = null;
    this.used = 0;
  }

  dispose(): void {
    this.discard();
    for (const p of this.pages) p.buffer.destroy();
    this.pages.length = 0;
    this.bindGroups.clear();
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.ctx.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.commandEncoder().beginComputePass());
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private page(i: number): Page {
    while (this.pages.length <= i) {
      const bytes = SLOTS_PER_PAGE * this.stride;
      this.pages.push({
        buffer: this.ctx.device.createBuffer({
          label: `params-${this.pages.length}`,
          size: bytes,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        }),
        words: new ArrayBuffer(bytes),
      });
    }
    return this.pages[i];
  }

  private bindGroup(kernel: KernelName, params: GPUBuffer, buffers: readonly GPUBuffer[]): GPUBindGroup {
    const key = `${kernel}|${bufferId(params)}|${buffers.map(bufferId).join(',')}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      bg = this.ctx.device.createBindGroup({
        label: kernel,
        layout: this.ctx.pipelines.bindGroupLayout(kernel),
        entries: [
          { binding: 0, resource: { buffer: params, size: PARAM_BYTES } },
          ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
        ],
      });
      this.bindGroups.set(key, bg);
    }
    return bg;
  }
}
