// Records one command buffer: a compute pass of dispatches, then optional copies, then ONE
// submit. Each dispatch's params go into a slot of a uniform "arena" (bound at a dynamic
// offset), so a command buffer can hold any number of dispatches with different params and
// the arena is written with one queue.writeBuffer per page just before the submit.
// Bind groups are cached by (kernel, arena page, buffers), so steady-state decode creates
// none. Counts dispatches and submits.
import type { GpuContext } from './device.ts';
import { KERNELS, PARAM_BYTES, type Constants, type KernelName } from './pipelines.ts';

const SLOTS_PER_PAGE = 256;

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

  /** (x, y) workgroup grid for `count` workgroups; kernels use id = y * num_workgroups.x + x. */
  grid(count: number): [number, number] {
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (count <= max) return [count, 1];
    const y = Math.ceil(count / max);
    return [Math.ceil(count / y), y];
  }

  dispatch(kernel: KernelName, d: Dispatch): void {
    const spec = KERNELS[kernel];
    if (d.buffers.length !== spec.buffers.length) {
      throw new Error(`${kernel}: ${d.buffers.length} buffers given, ${spec.buffers.length} expected`);
    }
    const slot = this.used++;
    const page = this.page(Math.floor(slot / SLOTS_PER_PAGE));
    const offset = (slot % SLOTS_PER_PAGE) * this.stride;
    const u32 = new Uint32Array(page.words, offset, PARAM_BYTES / 4);
    const f32 = new Float32Array(page.words, offset, PARAM_BYTES / 4);
    spec.params.forEach((field, i) => {
      const [name, type] = field.split(':');
      const v = d.params[name];
      if (v === undefined || !Number.isFinite(v)) throw new Error(`${kernel}: param ${name} is ${v}`);
      if (type === 'f32') f32[i] = v;
      else u32[i] = v;
    });

    const pass = this.computePass();
    pass.setPipeline(this.ctx.pipelines.get(kernel, d.constants));
    pass.setBindGroup(0, this.bindGroup(kernel, page.buffer, d.buffers), [offset]);
    const [x, y = 1, z = 1] = d.workgroups;
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
  }

  /** Records a buffer copy after the dispatches so far (ends the compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Writes the params arena and submits everything recorded as one command buffer. */
  submit(): void {
    this.endPass();
    const enc = this.commandEncoder();
    const queue = this.ctx.device.queue;
    for (let p = 0; p * SLOTS_PER_PAGE < this.used; p++) {
      const slots = Math.min(SLOTS_PER_PAGE, this.used - p * SLOTS_PER_PAGE);
      queue.writeBuffer(this.pages[p].buffer, 0, this.pages[p].words, 0, slots * this.stride);
    }
    queue.submit([enc.finish()]);
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
