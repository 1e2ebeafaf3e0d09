import type { GptqOptions, GptqResult } from '../core/gptq.ts';
import type { GpuContext } from './device.ts';
import type { QuantRecorder } from './quant-pipelines.ts';
export class GpuHessian {
  constructor(readonly ctx: GpuContext, readonly rec: QuantRecorder, readonly cols: number) {}
}
export function gptqOnGpu(ctx: GpuContext, rec: QuantRecorder, W: Float32Array, rows: number, cols: number, H: GpuHessian | Float64Array | Float32Array, opts: GptqOptions): Promise<GptqResult> {
  throw new Error('todo');
}
