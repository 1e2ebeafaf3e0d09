// The pipeline cache, one per GpuContext (ctx.pipelines): the only place that builds shader
// modules, bind-group layouts and compute pipelines. A kernel's module is its libraries (kernel
// table order) followed by its file, with the file's `enable` directives hoisted to the top
// (WGSL wants them before any declaration). Pipelines are cached by
// kernel | sorted override constants | library set; the bind-group layout is per kernel, so
// bind groups are shared by all variants of one kernel.
import { NibbleError } from '../core/errors.ts';
import { KERNELS, PARAM_BYTES, kernelSpec, type Constants, type KernelName } from './kernel-table.ts';
import { LIBRARIES, SHADERS } from './shaders.ts';

const ENABLE = /^[ \t]*enable\s+[^;]+;[^\n]*\n/gm;

/** The WGSL of one kernel: enable directives, then its libraries, then its own file. */
export function kernelSource(kernel: KernelName): string {
  const spec = kernelSpec(kernel);
  const body = SHADERS[spec.file];
  const enables = body.match(ENABLE) ?? [];
  const libs = (spec.libs ?? []).map((l) => `// ---- shaders/lib/${l}.wgsl ----\n${LIBRARIES[l]}`);
  return [...enables, ...libs, `// ---- ${spec.file}.wgsl ----\n${body.replace(ENABLE, '')}`].join('\n');
}

/** kernel | sorted override constants | library set. */
export function pipelineKey(kernel: KernelName, constants: Constants): string {
  const overrides = Object.keys(constants)
    .sort()
    .map((k) => `${k}=${constants[k]}`)
    .join(',');
  return `${kernel}|${overrides}|${(kernelSpec(kernel).libs ?? []).join('+')}`;
}

function checkConstants(kernel: KernelName, constants: Constants): void {
  const declared = kernelSpec(kernel).constants ?? [];
  for (const name of Object.keys(constants)) {
    if (!declared.includes(name)) throw new Error(`${kernel}: no override constant ${name} in the kernel table`);
  }
}

interface Layout {
  group: GPUBindGroupLayout;
  pipeline: GPUPipelineLayout;
}

export class PipelineCache {
  private readonly modules = new Map<KernelName, GPUShaderModule>();
  private readonly layouts = new Map<KernelName, Layout>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  /** Number of distinct pipelines built so far (for tests and the bench). */
  get size(): number {
    return this.pipelines.size;
  }

  bindGroupLayout(kernel: KernelName): GPUBindGroupLayout {
    return this.layoutOf(kernel).group;
  }

  /** The pipeline for (kernel, constants), compiled on first use. */
  get(kernel: KernelName, constants: Constants = {}): GPUComputePipeline {
    const key = pipelineKey(kernel, constants);
    let p = this.pipelines.get(key);
    if (!p) {
      checkConstants(kernel, constants);
      p = this.device.createComputePipeline(this.descriptor(kernel, constants, key));
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Compiles (kernel, constants) ahead of use, off the main thread where the browser can.
   * Throws NibbleError 'unsupported' with the compiler's messages if the device rejects it.
   */
  async prepare(kernel: KernelName, constants: Constants = {}): Promise<void> {
    const key = pipelineKey(kernel, constants);
    if (this.pipelines.has(key)) return;
    checkConstants(kernel, constants);
    try {
      const p = await this.device.createComputePipelineAsync(this.descriptor(kernel, constants, key));
      this.pipelines.set(key, p);
    } catch (e) {
      const info = await this.module(kernel).getCompilationInfo();
      const msgs = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('; ');
      throw new NibbleError(
        'unsupported',
        `this GPU could not build kernel ${key}: ${(e as Error).message}${msgs ? ` (${msgs})` : ''}`,
      );
    }
  }

  private descriptor(kernel: KernelName, constants: Constants, key: string): GPUComputePipelineDescriptor {
    return {
      label: key,
      layout: this.layoutOf(kernel).pipeline,
      compute: { module: this.module(kernel), entryPoint: 'main', constants: { ...constants } },
    };
  }

  private module(kernel: KernelName): GPUShaderModule {
    let m = this.modules.get(kernel);
    if (!m) {
      m = this.device.createShaderModule({ label: kernel, code: kernelSource(kernel) });
      this.modules.set(kernel, m);
    }
    return m;
  }

  private layoutOf(kernel: KernelName): Layout {
    let l = this.layouts.get(kernel);
    if (!l) {
      const spec = KERNELS[kernel];
      if (spec.params.length * 4 > PARAM_BYTES) throw new Error(`${kernel}: params exceed ${PARAM_BYTES} bytes`);
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
