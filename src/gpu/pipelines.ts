// The kernel table and the pipeline cache. Each kernel is one shader plus an explicit
// bind-group layout: binding 0 is its params uniform (a 64-byte slot at a dynamic offset in
// the recorder's params arena), then its storage buffers in order. Pipelines are cached by
// (kernel, override constants); the layout is per kernel, so bind groups are shared by all
// variants of one kernel.
import { NibbleError } from '../core/errors.ts';
import { SHADERS, type ShaderName } from './shaders.ts';

/** Storage access of a buffer binding: read-only or read-write. */
export type Access = 'read' | 'rw';

export interface KernelSpec {
  buffers: readonly Access[]; // bindings 1..n
  params: readonly string[]; // WGSL Params fields in order; 'name' is u32, 'name:f32' is f32
}

/** Bytes of one params slot bound per dispatch; every Params struct must fit. */
export const PARAM_BYTES = 64;

export const KERNELS: Record<ShaderName, KernelSpec> = {
  embed_f32: { buffers: ['read', 'read', 'rw'], params: ['M', 'dim', 'vocab', 'tok_off', 'row0', 'rows'] },
  rmsnorm_f32: { buffers: ['read', 'read', 'rw'], params: ['M', 'dim', 'eps:f32'] },
  matmul_gemv_f32: { buffers: ['read', 'read', 'read', 'rw'], params: ['K', 'N', 'x_off', 'eps:f32', 'n_off'] },
  matmul_gemv_f32_sg: { buffers: ['read', 'read', 'read', 'rw'], params: ['K', 'N', 'x_off', 'eps:f32', 'n_off'] },
  matmul_gemm_f32: { buffers: ['read', 'read', 'rw'], params: ['M', 'N', 'K', 'n_off', 'ldo'] },
  // Packed quantized weights (src/gpu/matmul-quant.ts; layouts in each shader's header).
  matmul_gemv_qn: {
    buffers: ['read', 'read', 'read', 'read', 'read', 'read', 'rw'],
    params: ['K', 'N', 'x_off', 'eps:f32', 'group', 'n_groups', 'wpr', 'n_off'],
  },
  matmul_gemm_qn: {
    buffers: ['read', 'read', 'read', 'read', 'read', 'rw'],
    params: ['M', 'N', 'K', 'group', 'n_groups', 'wpr', 'n_off', 'ldo'],
  },
  matmul_gemv_nf4: {
    buffers: ['read', 'read', 'read', 'read', 'rw'],
    params: ['K', 'N', 'x_off', 'eps:f32', 'block', 'n_off'],
  },
  matmul_gemm_nf4: { buffers: ['read', 'read', 'read', 'rw'], params: ['M', 'N', 'K', 'block', 'n_off', 'ldo'] },
  matmul_gemv_llmint8: {
    buffers: ['read', 'read', 'read', 'read', 'rw'],
    params: ['K', 'N', 'x_off', 'eps:f32', 'wpr', 'n_off', 'thr:f32', 'outliers'],
  },
  matmul_prep_llmint8: {
    buffers: ['read', 'rw'],
    params: ['M', 'K', 'wpr', 'thr:f32', 'outliers', 'mask_off', 'sx_off', 'xq_off'],
  },
  matmul_gemm_llmint8: {
    buffers: ['read', 'read', 'read', 'read', 'rw'],
    params: ['M', 'N', 'K', 'wpr', 'n_off', 'ldo', 'mask_off', 'sx_off', 'xq_off'],
  },
  rope_f32: {
    buffers: ['rw', 'rw', 'rw', 'read', 'read'], // + bias (override BIAS)
    params: ['M', 'pos0', 'n_heads', 'n_kv', 'hs', 'stride', 'k_off', 'v_off', 'style'],
  },
  attention_f32: {
    buffers: ['read', 'read', 'read', 'rw'],
    params: ['M', 'pos0', 'n_heads', 'n_kv', 'hs', 'q_stride', 'scale:f32'],
  },
  silu_mul_f32: { buffers: ['read', 'rw'], params: ['M', 'H'] },
  add_f32: { buffers: ['rw', 'read'], params: ['n'] },
  argmax_f32: { buffers: ['read', 'rw'], params: ['n', 'off'] },
};

export type KernelName = ShaderName;
/** Pipeline-overridable constants of one variant (WGSL `override`); booleans as 0 / 1. */
export type Constants = Readonly<Record<string, number>>;

const cacheKey = (kernel: KernelName, constants: Constants): string =>
  `${kernel}|${Object.keys(constants)
    .sort()
    .map((k) => `${k}=${constants[k]}`)
    .join(',')}`;

export class PipelineCache {
  private readonly modules = new Map<KernelName, GPUShaderModule>();
  private readonly layouts = new Map<KernelName, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
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
    const key = cacheKey(kernel, constants);
    let p = this.pipelines.get(key);
    if (!p) {
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
    const key = cacheKey(kernel, constants);
    if (this.pipelines.has(key)) return;
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
      m = this.device.createShaderModule({ label: kernel, code: SHADERS[kernel] });
      this.modules.set(kernel, m);
    }
    return m;
  }

  private layoutOf(kernel: KernelName): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
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
