// One interface for the quantizers, implemented twice: by the CPU twins (cpu-backend.ts, src/core/quant)
// and by the WGSL kernels (gpu-backend.ts, src/gpu/quant-*.ts). Both give the same results: bit for
// bit for every calibration-free quantizer, GPTQ within f32 (GPU) vs f64 (CPU). The method switch
// over a QuantSpec is written once, against this interface, in quantize-linear.ts.
//
// A CPU backend answers at once (Mode 'sync'), a GPU backend with promises ('async'): `Out<T, M>`
// is the result type, so the CPU path stays synchronous where its callers need it to be.
import type { GptqOptions, GptqResult } from '../../core/quant/gptq.ts';
import type { FloatFormat, Overflow } from '../../core/quant/float-formats.ts';
import type { UniformPlan } from '../../core/quant/quantize-tensor.ts';
import type {
  CodebookFormat,
  CodebookQuantTensor,
  F32Tensor,
  Int8RowsTensor,
  UniformQuantTensor,
} from '../../core/tensor.ts';

export type Mode = 'sync' | 'async';
export type Out<T, M extends Mode> = M extends 'sync' ? T : Promise<T>;

/** H = (2/n) Σ x xᵀ (cols × cols) over n calibration rows, held by the backend that made it. */
export interface HessianState {
  readonly cols: number;
  readonly samples: number; // rows accumulated so far
}

/** Rows of activations entering a linear: x (rows, cols) row-major, from a CPU forward pass. */
export interface ActivationRows {
  x: Float32Array; // ≥ rows · cols values; the first rows · cols are read
  rows: number;
}

/**
 * The same rows left on the GPU by a calibration forward (src/engine/calibrate/): (rows, cols) f32
 * in `buffer` from element `offset`. Only the GPU backend's accumulateHessian takes them; it
 * records the accumulation into the recorder the forward was recorded in (no readback), and
 * finishHessian submits it.
 */
export interface GpuActivationRows {
  buffer: GPUBuffer;
  offset: number;
  rows: number;
}

/** The calibration-free quantizers. */
export interface QuantBackend<M extends Mode = Mode> {
  readonly name: 'cpu' | 'webgpu';
  readonly mode: M;
  /** A value as this backend's result (a resolved promise on an async backend). */
  resolve<T>(v: T): Out<T, M>;
  /** f applied to a result when it is there: at once (sync) or when the promise resolves. (Not
   * named `then`: that would make a backend a thenable, which `await` would call.) */
  map<A, B>(r: Out<A, M>, f: (a: A) => B): Out<B, M>;

  /** Uniform RTN (2..8 bits, row / group / tensor scales): the packed tensor the plan describes. */
  uniform(w: F32Tensor, plan: UniformPlan): Out<UniformQuantTensor, M>;
  /** Codebook 4-bit (bitsandbytes NF4 / FP4) over blocks of the flattened tensor. */
  codebook(w: F32Tensor, format: CodebookFormat, blockSize: number, doubleQuant: boolean): Out<CodebookQuantTensor, M>;
  /** LLM.int8 weight: absmax int8 per output row (threshold: the activation outlier cut, stored). */
  int8Rows(w: F32Tensor, threshold: number): Out<Int8RowsTensor, M>;
  /** Every value rounded to the nearest value of a float format (RNE), as f32. */
  roundToFloat(x: Float32Array, format: FloatFormat, overflow?: Overflow): Out<Float32Array, M>;
  /** f32 with k fraction bits kept: dropped bits zeroed ('truncate') or rounded to nearest even ('rne'). */
  truncate(x: Float32Array, k: number, mode: 'truncate' | 'rne'): Out<Float32Array, M>;
}

/** The quantizers and GPTQ, whose Hessian state H is this backend's own. */
export interface GptqBackend<M extends Mode = Mode, H extends HessianState = HessianState> extends QuantBackend<M> {
  /**
   * GPTQ's Hessian, in three steps: hessian(cols) starts one, accumulateHessian adds calibration
   * rows (any number of calls: one per window, per capture), finishHessian ends the accumulation
   * (after it only gptq reads H). releaseHessian frees it (GPU memory) when GPTQ is done.
   */
  hessian(cols: number): H;
  accumulateHessian(h: H, a: ActivationRows): void;
  finishHessian(h: H): Out<void, M>;
  releaseHessian(h: H): void;
  /** GPTQ of W (rows, cols) with a finished Hessian of this backend. */
  gptq(W: Float32Array, rows: number, cols: number, h: H, opts: GptqOptions): Out<GptqResult, M>;
}
