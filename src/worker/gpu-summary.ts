// GpuContext → the plain, clonable summary the UI shows (adapter, features, key limits).
import type { GpuContext } from '../gpu/device.ts';
import type { GpuSummary } from './protocol.ts';

/** Limits that decide whether a model fits and how kernels are shaped, in display order. */
export const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

export function summarizeGpu(ctx: GpuContext): GpuSummary {
  const limits: Record<string, number> = {};
  // Read from the device: these are the limits actually granted, not the adapter's maxima.
  const granted = ctx.device.limits as unknown as Record<string, number | undefined>;
  for (const k of KEY_LIMITS) {
    const v = granted[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const a = ctx.adapterInfo;
  return {
    adapter: { vendor: a.vendor ?? '', architecture: a.architecture ?? '', device: a.device ?? '', description: a.description ?? '' },
    features: { shaderF16: ctx.features.shaderF16, subgroups: ctx.features.subgroups, timestampQuery: ctx.features.timestampQuery },
    limits,
  };
}
