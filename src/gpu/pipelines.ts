// The pipeline cache, one per GpuContext (ctx.pipelines): the only place that builds shader
// modules, bind-group layouts and compute pipelines. A kernel's module is the file's `enable`
// directives (WGSL wants them before any declaration), then its declarations written from the
// kernel table (`struct Params`, the uniform `p`, the storage bindings), then its libraries
// (kernel table order), then its file. Pipelines are cached by
// kernel | sorted override constants | library set; the bind-group layout is per kernel, so
// bind groups are shared by all variants of one kernel.
import { NibbleError } from '../core/errors.ts';
import { KERNELS, PARAM_BYTES, kernelSpec, type Binding, type Constants, type KernelName } from './kernel-table.ts';
import { LIBRARIES, SHADERS } from './shaders.ts';

const ENABLE = /^[ \t]*enable\s+[^;]+;[^\n]*\n/gm;
const BINDING = /^(read|rw) (\w+): (.+)$/;
const DECLARED_IN_FILE = /^\s*(struct\s+Params\b|@group\s*\()/m;

function parseBinding(kernel: KernelName, b: Binding): { access: 'read' | 'rw'; name: string; type: string } {
  const m = BINDING.exec(b);
  if (!m) throw new Error(`${kernel}: binding '${b}' is not '<read|rw> <name>: <type>'`);
  return { access: m[1] as 'read' | 'rw', name: m[2], type: m[3] };
}

/** WGSL declarations of a kernel's table row: struct Params, the uniform p, bindings 1..n. */
export function kernelDeclarations(kernel: KernelName): string {
  const spec = kernelSpec(kernel);
  const fields = spec.params.map((f) => {
    const [name, type = 'u32'] = f.split(':');
    return `  ${name}: ${type},\n`;
  });
  const buffers = spec.buffers.map((b, i) => {
    const { access, name, type } = parseBinding(kernel, b);
    const space = access === 'read' ? 'storage, read' : 'storage, read_write';
    return `@group(0) @binding(${i + 1}) var<${space}> ${name}: ${type};\n`;
  });
  return [`struct Params {\n${fields.join('')}}\n`, '@group(0) @binding(0) var<uniform> p: Params;\n', ...buffers].join(
    '',
  );
}

/** The WGSL of one kernel: enable directives, declarations, its libraries, then its own file. */
export function kernelSource(kernel: KernelName): string {
  const spec = kernelSpec(kernel);
  const body = SHADERS[spec.file];
  if (DECLARED_IN_FILE.test(body)) {
    throw new Error(`${spec.file}.wgsl declares Params or a binding: they belong in the kernel table row ${kernel}`);
  }
  const enables = body.match(ENABLE) ?? [];
  const decls = `// ---- declarations of ${kernel} (src/gpu/kernel-table.ts) ----\n${kernelDeclarations(kernel)}`;
  const libs = (spec.libs ?? []).map((l) => `// ---- shaders/lib/${l}.wgsl ----\n${LIBRARIES[l]}`);
  return [...enables, decls, ...libs, `// ---- ${spec.file}.wgsl ----\n${body.replace(ENABLE, '')}`].join('\n');
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
        ...spec.buffers.map((b, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: parseBinding(kernel, b).access === 'read' ? 'read-only-storage' : 'storage' },
        })),
      ];
      const group = this.device.createBindGroupLayout({ label: kernel, entries });
      l = { group, pipeline: this.device.createPipelineLayout({ label: kernel, bindGroupLayouts: [group] }) };
      this.layouts.set(kernel, l);
    }
    return l;
  }
}
