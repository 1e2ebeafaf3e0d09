// GpuContext → the plain, clonable summary the UI shows (adapter, features, kernels, key limits).
import type { GpuContext } from '../../gpu/device.ts';
import type { GpuSummary } from './protocol.ts';

// Whether an adapter is a software one is decided by the device module; the host reads it here.
export { isSoftwareAdapter } from '../../gpu/device.ts';

/** Limits that decide whether a model fits and how kernels are shaped, in display order. */
export const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
] as const;

export function summarizeGpu(ctx: GpuContext): GpuSummary {
  // ctx.limits are the device's (granted) limits, not the adapter's maxima.
  const granted = ctx.limits as unknown as Record<string, number | undefined>;
  const limits: Record<string, number> = {};
  for (const k of KEY_LIMITS) {
    const v = granted[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const { vendor, architecture, device, description } = ctx.adapterInfo;
  return {
    adapter: { vendor, architecture, device, description },
    features: { shaderF16: ctx.caps.shaderF16, subgroups: ctx.caps.subgroups, timestampQuery: ctx.caps.timestampQuery },
    subgroupSizes: ctx.caps.subgroupMaxSize > 0 ? [ctx.caps.subgroupMinSize, ctx.caps.subgroupMaxSize] : null,
    kernels: ctx.kernels.label,
    limits,
  };
}
