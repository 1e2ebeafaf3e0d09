// The device module: variant choice, requested features and limits, the pipeline cache,
// the too-large check, and device loss reported as a NibbleError.
import { beforeAll, describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { f32Tensor } from '../../src/core/tensor.ts';
import { checkFits } from '../../src/gpu/buffers.ts';
import { chooseKernels, describeAdapter, type GpuCaps, type GpuContext } from '../../src/gpu/device.ts';
import { KERNELS, type KernelName } from '../../src/gpu/kernel-table.ts';
import { kernelSource, pipelineKey } from '../../src/gpu/pipelines.ts';
import { gpuContext } from './setup-device.ts';
import { uploadLinear, weightBuffers } from '../../src/gpu/weights.ts';
import { createNodeGpuContext } from '../../src/cli/dawn.ts';

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

const caps = (over: Partial<GpuCaps>): GpuCaps => ({
  shaderF16: false,
  subgroups: false,
  timestampQuery: false,
  subgroupMinSize: 0,
  subgroupMaxSize: 0,
  ...over,
});

describe('chooseKernels', () => {
  it('uses subgroup reductions only when offered and not disabled; f32 always', () => {
    expect(chooseKernels(caps({ subgroups: true })).gemv).toBe('matmul_gemv_f32_sg');
    expect(chooseKernels(caps({ subgroups: true }), { disableSubgroups: true }).gemv).toBe('matmul_gemv_f32');
    expect(chooseKernels(caps({})).gemv).toBe('matmul_gemv_f32');
  });
});

describe('requestGpuContext on Dawn', () => {
  it('reports the adapter, capabilities and granted limits, and requests only what it uses', () => {
    expect(describeAdapter(ctx.adapterInfo)).not.toBe('unknown adapter');
    expect(ctx.caps.subgroups).toBe(true);
    expect(ctx.features).toEqual(['subgroups']);
    expect(ctx.device.features.has('timestamp-query')).toBe(false); // offered, not requested
    expect(ctx.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
    expect(ctx.limits.minUniformBufferOffsetAlignment).toBeGreaterThan(0);
  });

  it('caches pipelines by (kernel, constants), independent of key order', () => {
    const a = ctx.pipelines.get('matmul_gemv_f32_sg', { WG: 32, PROLOGUE: 1, ACCUMULATE: 0 });
    const b = ctx.pipelines.get('matmul_gemv_f32_sg', { ACCUMULATE: 0, PROLOGUE: 1, WG: 32 });
    const c = ctx.pipelines.get('matmul_gemv_f32_sg', { WG: 32, PROLOGUE: 2, ACCUMULATE: 0 });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(pipelineKey('matmul_gemv_f32_sg', { WG: 32, PROLOGUE: 1, ACCUMULATE: 0 })).toBe(
      'matmul_gemv_f32_sg|ACCUMULATE=0,PROLOGUE=1,WG=32|matmul_prologue',
    );
    expect(() => ctx.pipelines.get('argmax_f32', { WG: 32 })).toThrow(/no override constant WG/);
  });

  it('compiles every kernel of the table, libraries prepended, without errors', async () => {
    ctx.device.pushErrorScope('validation');
    for (const k of Object.keys(KERNELS) as KernelName[]) await ctx.pipelines.prepare(k);
    expect(await ctx.device.popErrorScope()).toBeNull();
    expect(kernelSource('matmul_gemv_f32_sg').startsWith('enable subgroups;')).toBe(true);
  });

  it('prepare() compiles every kernel and variant the runner uses without errors', async () => {
    ctx.device.pushErrorScope('validation');
    for (const k of [
      'embed_f32',
      'rmsnorm_f32',
      'matmul_gemm_f32',
      'rope_f32',
      'attention_f32',
      'silu_mul_f32',
      'argmax_f32',
    ] as const) {
      await ctx.pipelines.prepare(k);
    }
    for (const PROLOGUE of [0, 1, 2]) {
      for (const WG of [32, 64, 128]) await ctx.pipelines.prepare('matmul_gemv_f32', { WG, PROLOGUE, ACCUMULATE: 1 });
    }
    expect(await ctx.device.popErrorScope()).toBeNull();
  });
});

describe('too-large', () => {
  it('names the tensor, its size and the device limit', () => {
    const small = { ...ctx, limits: { ...ctx.limits, maxStorageBufferBindingSize: 1024 } };
    const err = (() => {
      try {
        checkFits(small, 4096, 'l0.wqkv');
      } catch (e) {
        return e;
      }
    })();
    expect(isNibbleError(err) && err.code).toBe('too-large');
    expect((err as Error).message).toMatch(/l0\.wqkv needs 0\.0 MiB.*maxStorageBufferBindingSize/);
    // A weight larger than one binding is split by rows (8 rows of 128 bytes per 1024-byte part)...
    const w = uploadLinear(small, [f32Tensor([32, 32], new Float32Array(1024))], 'w');
    expect(w.format === 'stack' && w.parts.map((p) => p.n)).toEqual([8, 8, 8, 8]);
    weightBuffers(w).forEach((b) => b.destroy());
    // ...unless a single row does not fit.
    expect(() => uploadLinear(small, [f32Tensor([2, 512], new Float32Array(1024))], 'w')).toThrow(
      /w: one row takes 2048 bytes/,
    );
  });
});

describe('device loss', () => {
  it('resolves ctx.lost with a device-lost NibbleError', async () => {
    const own = await createNodeGpuContext({ disableSubgroups: true });
    expect(own.lostError()).toBeNull();
    own.destroy();
    const err = await own.lost;
    expect(err.code).toBe('device-lost');
    expect(own.lostError()).toBe(err);
  });
});
