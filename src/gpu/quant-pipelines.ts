// Kernel table, pipeline cache and a small command recorder for the quantization suite
// (shaders/quant_*, float_*, histogram_*, hessian_*, cholesky_*, gptq_*). Same conventions as
// pipelines.ts and recorder.ts: binding 0 is the kernel's params uniform (a 64-byte slot at a
// dynamic offset in a params arena), then its storage buffers in order; pipelines are cached
// by (kernel, override constants). Kept apart from pipelines.ts because its KERNELS table is
// typed over the inference shaders. Kernels marked `lib` get shaders/lib/quant_softfloat.wgsl
// prepended (bit-exact integer float arithmetic; see that file).
import { NibbleError } from '../core/errors.ts';
import type { GpuContext } from './device.ts';
import { QUANT_LIBRARY, QUANT_SHADERS, type QuantShaderName } from './shaders.ts';

export type QuantKernel = QuantShaderName;
type Access = 'read' | 'rw';

export interface QuantKernelSpec {
  buffers: readonly Access[]; // bindings 1..n
  params: readonly string[]; // WGSL Params fields in order: 'name' u32, 'name:f32', 'name:i32'
  lib?: boolean; // prepend quant_softfloat.wgsl
}

const PARAM_BYTES = 64;
const SLOTS_PER_PAGE = 256;

export const QUANT_KERNELS: Record<QuantKernel, QuantKernelSpec> = {
  quant_range: { buffers: ['read', 'rw', 'rw'], params: ['rows', 'cols', 'G', 'n_groups'] },
  quant_params: {
    buffers: ['read', 'rw', 'rw', 'rw'],
    params: ['n', 'bits', 'sym', 'f16', 'write_zeros', 'tensor'],
    lib: true,
  },
  quant_pack: {
    buffers: ['read', 'read', 'read', 'rw'],
    params: ['rows', 'cols', 'G', 'n_groups', 'wpr', 'units', 'bits', 'f16', 'has_zeros'],
    lib: true,
  },
  quant_int8_rows: { buffers: ['read', 'rw', 'rw', 'rw'], params: ['rows', 'cols', 'wpr'], lib: true },
  quant_absmax: { buffers: ['read', 'rw', 'rw'], params: ['n', 'B', 'n_blocks'] },
  quant_nf4: { buffers: ['read', 'read', 'rw'], params: ['n', 'B', 'n_words'], lib: true },
  float_round: { buffers: ['read', 'rw'], params: ['n', 'mb', 'emin:i32', 'max_bits', 'overflow'], lib: true },
  float_trunc: { buffers: ['read', 'rw'], params: ['n', 'k', 'mode'] },
  histogram_codes: {
    buffers: ['read', 'read', 'read', 'read', 'read', 'rw'],
    params: ['rows', 'cols', 'wpr', 'G', 'n_groups', 'bits', 'has_w', 'has_gidx'],
    lib: true,
  },
  hessian_accum: { buffers: ['read', 'rw'], params: ['K', 'T', 'decay:f32', 'f:f32'] },
  cholesky_prep: { buffers: ['read', 'read', 'rw'], params: ['n', 'damp:f32'] },
  cholesky_panel: { buffers: ['rw', 'rw', 'rw'], params: ['n', 'k0'] },
  cholesky_update: { buffers: ['rw'], params: ['n', 'k0'] },
  cholesky_inverse_diag: { buffers: ['read', 'rw'], params: ['n'] },
  cholesky_inverse_rows: { buffers: ['read', 'rw'], params: ['n', 'bi'] },
  cholesky_reverse: { buffers: ['read', 'rw'], params: ['n'] },
  gptq_fit: { buffers: ['read', 'rw'], params: ['rows', 'cols', 'G', 'n_groups', 'g0', 'ng', 'maxq', 'sym'] },
  gptq_block: {
    buffers: ['read', 'read', 'read', 'read', 'rw', 'rw', 'rw'],
    params: ['rows', 'cols', 's1', 'cnt', 'n_groups', 'maxq'],
  },
  gptq_update: { buffers: ['read', 'read', 'rw'], params: ['rows', 'cols', 's1', 'cnt'] },
};

export type Constants = Readonly<Record<string, number>>;

const cacheKey = (kernel: QuantKernel, c: Constants): string =>
  `${kernel}|${Object.keys(c)
    .sort()
    .map((k) => `${k}=${c[k]}`)
    .join(',')}`;

/** Pipelines of the quant kernels for one device, compiled on first use. */
export class QuantPipelineCache {
  private readonly modules = new Map<QuantKernel, GPUShaderModule>();
  private readonly layouts = new Map<QuantKernel, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  bindGroupLayout(kernel: QuantKernel): GPUBindGroupLayout {
    return this.layoutOf(kernel).group;
  }

  get(kernel: QuantKernel, constants: Constants = {}): GPUComputePipeline {
    const key = cacheKey(kernel, constants);
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.device.createComputePipeline({
        label: key,
        layout: this.layoutOf(kernel).pipeline,
        compute: { module: this.module(kernel), entryPoint: 'main', constants: { ...constants } },
      });
      this.pipelines.set(key, p);
    }
    return p;
  }

  private module(kernel: QuantKernel): GPUShaderModule {
    let m = this.modules.get(kernel);
    if (!m) {
      const code = QUANT_KERNELS[kernel].lib ? `${QUANT_LIBRARY}\n${QUANT_SHADERS[kernel]}` : QUANT_SHADERS[kernel];
      m = this.device.createShaderModule({ label: kernel, code });
      this.modules.set(kernel, m);
    }
    return m;
  }

  private layoutOf(kernel: QuantKernel): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.layouts.get(kernel);
    if (!l) {
      const spec = QUANT_KERNELS[kernel];
      const entries: GPUBindGroupLayoutEntry[] = [
        {
          binding: 0,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: PARAM_BYTES },
        },
        ...spec.buffers.map((a, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: a === 'read' ? 'read-only-storage' : 'storage' },
        })),
      ];
      const group = this.device.createBindGroupLayout({ label: kernel, entries });
      l = { group, pipeline: this.device.createPipelineLayout({ label: kernel, bindGroupLayouts: [group] }) };
      this.layouts.set(kernel, l);
    }
    return l;
  }
}

const caches = new WeakMap<GPUDevice, QuantPipelineCache>();

/** The device's quant pipeline cache (one per device, shared by every QuantRecorder). */
export function quantPipelines(ctx: GpuContext): QuantPipelineCache {
  let c = caches.get(ctx.device);
  if (!c) {
    c = new QuantPipelineCache(ctx.device);
    caches.set(ctx.device, c);
  }
  return c;
}

export interface QuantDispatch {
  constants?: Constants;
  buffers: readonly GPUBuffer[];
  params: Readonly<Record<string, number>>;
  workgroups: readonly [number, number?, number?];
}

/**
 * One command buffer of quant dispatches: params go to a uniform arena (pages of 256 slots)
 * written once per page at submit. Reusable after submit (queue order keeps it safe).
 */
export class QuantRecorder {
  readonly counters = { dispatches: 0, submits: 0 };
  readonly pipelines: QuantPipelineCache;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly pages: { buffer: GPUBuffer; words: ArrayBuffer }[] = [];
  private used = 0;
  private readonly stride: number;

  constructor(readonly ctx: GpuContext) {
    this.pipelines = quantPipelines(ctx);
    const align = ctx.limits.minUniformBufferOffsetAlignment;
    this.stride = Math.ceil(PARAM_BYTES / align) * align;
  }

  /** (x, y) grid of `count` workgroups (≥ 1); kernels use id = y · num_workgroups.x + x. */
  grid(count: number): [number, number] {
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const n = Math.max(1, count);
    if (n <= max) return [n, 1];
    const y = Math.ceil(n / max);
    if (y > max) throw new NibbleError('too-large', `${n} workgroups exceed the device's ${max}² grid`);
    return [Math.ceil(n / y), y];
  }

  dispatch(kernel: QuantKernel, d: QuantDispatch): void {
    const spec = QUANT_KERNELS[kernel];
    if (d.buffers.length !== spec.buffers.length)
      throw new Error(`${kernel}: ${d.buffers.length} buffers given, ${spec.buffers.length} expected`);
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
    const pass = (this.pass ??= this.commandEncoder().beginComputePass());
    pass.setPipeline(this.pipelines.get(kernel, d.constants));
    const bg = this.ctx.device.createBindGroup({
      label: kernel,
      layout: this.pipelines.bindGroupLayout(kernel),
      entries: [
        { binding: 0, resource: { buffer: page.buffer, size: PARAM_BYTES } },
        ...d.buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
      ],
    });
    pass.setBindGroup(0, bg, [offset]);
    const [x, y = 1, z = 1] = d.workgroups;
    pass.dispatchWorkgroups(x, y, z);
    this.counters.dispatches++;
  }

  /** Records a buffer copy after the dispatches so far. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Records a zero fill of `bytes` (a multiple of 4) of `buf`. */
  clear(buf: GPUBuffer, bytes?: number): void {
    this.endPass();
    this.commandEncoder().clearBuffer(buf, 0, bytes);
  }

  submit(): void {
    this.endPass();
    const enc = this.commandEncoder();
    for (let p = 0; p * SLOTS_PER_PAGE < this.used; p++) {
      const slots = Math.min(SLOTS_PER_PAGE, this.used - p * SLOTS_PER_PAGE);
      this.ctx.device.queue.writeBuffer(this.pages[p].buffer, 0, this.pages[p].words, 0, slots * this.stride);
    }
    this.ctx.device.queue.submit([enc.finish()]);
    this.encoder = null;
    this.used = 0;
    this.counters.submits++;
  }

  dispose(): void {
    this.pass?.end();
    this.pass = null;
    this.encoder = null;
    this.used = 0;
    for (const p of this.pages) p.buffer.destroy();
    this.pages.length = 0;
  }

  private commandEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.ctx.device.createCommandEncoder({ label: 'quant' }));
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private page(i: number): { buffer: GPUBuffer; words: ArrayBuffer } {
    while (this.pages.length <= i) {
      const bytes = SLOTS_PER_PAGE * this.stride;
      this.pages.push({
        buffer: this.ctx.device.createBuffer({
          label: `quant-params-${this.pages.length}`,
          size: bytes,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        }),
        words: new ArrayBuffer(bytes),
      });
    }
    return this.pages[i];
  }
}

// ---- shape checks shared by the quant wrappers ----------------------------------------------

export const fail = (msg: string): never => {
  throw new NibbleError('bad-argument', msg);
};

export function positive(what: string, ...dims: [string, number][]): void {
  for (const [name, v] of dims)
    if (!Number.isInteger(v) || v < 1) fail(`${what}: ${name} must be a positive integer, got ${v}`);
}

/** Checks that `buf` holds at least `words` 32-bit values. */
export function holds(what: string, buf: GPUBuffer, words: number): void {
  if (buf.size < words * 4) fail(`${what}: buffer ${buf.label || '?'} has ${buf.size} bytes, needs ${words * 4}`);
}

/** Workgroups of `size` threads covering `threads` threads, as an (x, y) grid. */
export const groupsFor = (rec: QuantRecorder, threads: number, size = 64): [number, number] =>
  rec.grid(Math.ceil(threads / size));

// ---- readback ---------------------------------------------------------------------------------

/** Copies several buffers (`words` 32-bit values from word `offset`, default 0) to the CPU
 *  through one staging buffer and one map. */
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
  const staging = ctx.device.createBuffer({
    label: 'quant-readback',
    size: total * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const enc = ctx.device.createCommandEncoder();
    parts.forEach(([buf, words, offset = 0], i) => {
      if (words > 0) enc.copyBufferToBuffer(buf, offset * 4, staging, offsets[i] * 4, words * 4);
    });
    ctx.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const all = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return parts.map(([, words], i) => all.slice(offsets[i], offsets[i] + words));
  } finally {
    staging.destroy();
  }
}
