// The one device module: adapter → capabilities → device → kernel variants (and whether the
// adapter is a software one). Everything that depends on what the GPU can do is decided here,
// once, and read from GpuContext elsewhere. The context owns the pipeline cache of the kernel
// table (pipelines.ts); recorders (recorder.ts) read it.
import { NibbleError } from '../core/errors.ts';
import { PipelineCache } from './pipelines.ts';

export interface GpuOptions {
  /** Use the workgroup-memory reductions even where subgroups exist (debugging). */
  disableSubgroups?: boolean;
  powerPreference?: GPUPowerPreference;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** What the adapter offers (not all of it is requested). */
export interface GpuCaps {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  subgroupMinSize: number; // 0 when the adapter does not say
  subgroupMaxSize: number;
  /** WGSL language feature packed_4x8_integer_dot_product (dot4I8Packed); undefined: not reported. */
  packedInt8Dot?: boolean;
}

/** The device limits nibble reads (the device's, i.e. what was granted). */
export interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  minUniformBufferOffsetAlignment: number;
}

/** Kernel variants in use, chosen by chooseKernels. */
export interface KernelChoice {
  gemv: 'matmul_gemv_f32' | 'matmul_gemv_f32_sg'; // f32 weights, M = 1
  /**
   * LLM.int8 weights can run (dot4I8Packed). The other quantized formats' packed kernels
   * (matmul_*_qn, matmul_*_nf4) need no optional feature and always run.
   */
  int8Dot: boolean;
  label: string; // e.g. "f32, subgroup reductions; packed q2–q8, nf4/fp4, llm.int8"
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapterInfo: AdapterSummary;
  readonly caps: GpuCaps;
  readonly limits: GpuLimits;
  readonly kernels: KernelChoice;
  readonly features: readonly GPUFeatureName[]; // what was requested
  readonly pipelines: PipelineCache;
  /** Resolves (never rejects) with a 'device-lost' error when the device goes away. */
  readonly lost: Promise<NibbleError>;
  /** The loss error once `lost` has resolved, else null. */
  lostError(): NibbleError | null;
  destroy(): void;
}

/**
 * The one switch from capabilities (and debug options) to kernel variants. Add rows here as
 * kernels land (f16 activations, subgroup GEMVs for packed weights); the matmul wrapper
 * (dispatchMatmul in src/gpu/kernels.ts) then picks from (weight format, M = 1 or M > 1,
 * this choice).
 */
export function chooseKernels(caps: GpuCaps, opts: GpuOptions = {}): KernelChoice {
  const reduce = caps.subgroups && !opts.disableSubgroups ? 'subgroups' : 'workgroup';
  // Not reported (older hosts) → try: the kernels fail to build with a clear error if absent.
  const int8Dot = caps.packedInt8Dot !== false;
  const quant = `packed q2–q8, nf4/fp4${int8Dot ? ', llm.int8' : ' (no llm.int8: no dot4I8Packed)'}`;
  // Every kernel is f32 today (shaderF16 is detected, not used): an f16 row and a switch to
  // keep it off join here when f16 kernels exist.
  switch (reduce) {
    case 'subgroups':
      return { gemv: 'matmul_gemv_f32_sg', int8Dot, label: `f32, subgroup reductions; ${quant}` };
    case 'workgroup':
      return { gemv: 'matmul_gemv_f32', int8Dot, label: `f32, workgroup reductions; ${quant}` };
  }
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'minUniformBufferOffsetAlignment',
] as const;

export async function requestGpuContext(gpu: GPU | undefined, opts: GpuOptions = {}): Promise<GpuContext> {
  if (!gpu) {
    throw new NibbleError(
      'no-webgpu',
      'WebGPU is not available here. Use a browser with WebGPU (Chrome/Edge 113+, or Firefox/Safari with WebGPU enabled), or the CPU backend.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new NibbleError(
      'no-webgpu',
      'No WebGPU adapter was found. Update the GPU driver or enable WebGPU in the browser; in Node without a GPU, install a software Vulkan driver (Debian: apt-get install -y libvulkan1 chromium).',
    );
  }
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const caps: GpuCaps = {
    shaderF16: adapter.features.has('shader-f16'),
    subgroups: adapter.features.has('subgroups' as GPUFeatureName),
    timestampQuery: adapter.features.has('timestamp-query'),
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    packedInt8Dot: gpu.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product'),
  };
  const kernels = chooseKernels(caps, opts);

  // Request only what the chosen kernels use: subgroups for the _sg variants, and the
  // adapter's buffer-size limits so that large weights fit (the defaults stop at 128/256 MiB).
  const features: GPUFeatureName[] = kernels.gemv === 'matmul_gemv_f32_sg' ? ['subgroups' as GPUFeatureName] : [];
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });

  let lostErr: NibbleError | null = null;
  const lost = device.lost.then((l) => {
    lostErr = new NibbleError(
      'device-lost',
      l.reason === 'destroyed'
        ? 'The GPU device was released.'
        : `The GPU device was lost (${l.message || 'no reason given'}). Reload the model to continue; if it keeps happening, try a smaller model or the CPU backend.`,
    );
    return lostErr;
  });

  const limits = Object.fromEntries(LIMIT_NAMES.map((n) => [n, device.limits[n]])) as unknown as GpuLimits;
  return {
    device,
    adapterInfo: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
    },
    caps,
    limits,
    kernels,
    features,
    pipelines: new PipelineCache(device),
    lost,
    lostError: () => lostErr,
    destroy: () => device.destroy(),
  };
}

/** One line for logs and the bench: "google swiftshader (SwiftShader driver 5.0.0)". */
export function describeAdapter(a: AdapterSummary): string {
  const name = [a.vendor, a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const detail = a.description || a.device;
  return detail ? `${name} (${detail})` : name;
}

/**
 * A software WebGPU adapter (SwiftShader, llvmpipe/lavapipe, WARP): compute runs on the CPU
 * through a shader emulator, so big passes (evaluation) are faster on nibble's CPU twin, and
 * its "GPU" timings are CPU timings.
 */
export function isSoftwareAdapter(a: AdapterSummary): boolean {
  return /swiftshader|llvmpipe|lavapipe|software|basic render|warp/i.test(
    `${a.vendor} ${a.architecture} ${a.device} ${a.description}`,
  );
}
