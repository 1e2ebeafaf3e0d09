// GpuQuantizer: the quantizer backend of the WGSL kernels (src/gpu/quant-*.ts), with the same
// inputs and results as the CPU twins (cpu-backend.ts):
//   uniform, codebook, int8Rows, roundToFloat, truncate ≡ bit for bit
//   hessian / accumulateHessian / finishHessian ≈ HessianAccumulator (f32 on the GPU)
//   gptq(W, rows, cols, H) ≈ gptqQuantize (f32; same GptqResult shape)
//   histogram(t, w?) ≡ core codeHistogram (the lab's collision counts; not part of the backend)
// Every call uploads its inputs, records one command buffer, reads the results back in one
// staging copy and frees its buffers; the device is the caller's (a GpuContext).
import { NibbleError } from '../../core/errors.ts';
import { FLOAT_SPECS, type FloatFormat, type Overflow } from '../../core/quant/float-formats.ts';
import { UNIFORM_BITS, unpackScales, unpackZeros, uniformFormatForBits } from '../../core/quant/format.ts';
import type { GptqOptions, GptqResult } from '../../core/quant/gptq.ts';
import type { CodeHistogram } from '../../core/quant/histogram.ts';
import { codebookTensor, storedSym, type QuantizeOptions, type UniformPlan } from '../../core/quant/quantize-tensor.ts';
import { checkBits } from '../../core/quant/uniform.ts';
import {
  numel,
  type CodebookFormat,
  type CodebookQuantTensor,
  type F32Tensor,
  type Int8RowsTensor,
  type QuantTensor,
  type Tensor,
  type UniformQuantTensor,
} from '../../core/tensor.ts';
import { createStorage, readBuffers, uploadStorage } from '../../gpu/buffers.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { quant4bit } from '../../gpu/quant-codebook.ts';
import { floatRound, floatTrunc } from '../../gpu/quant-float.ts';
import { GpuHessian, gptqOnGpu } from '../../gpu/quant-gptq.ts';
import { HISTOGRAM_WORDS, histogram } from '../../gpu/quant-histogram.ts';
import { Recorder } from '../../gpu/recorder.ts';
import { quantInt8Rows, quantUniform, uniformSizes } from '../../gpu/quant-rtn.ts';
import type { QuantSpec } from '../../core/quant/quant-spec.ts';
import type { ActivationRows, GptqBackend, GpuActivationRows, Out } from './backend.ts';
import { quantizeLinearOn, quantizeTensorOn } from './quantize-linear.ts';

/** f32 values read back as u32 words, viewed as f32 (no copy). */
const wordsAsF32 = (u: Uint32Array): Float32Array => new Float32Array(u.buffer, u.byteOffset, u.length);

export class GpuQuantizer implements GptqBackend<'async', GpuHessian> {
  readonly name = 'webgpu';
  readonly mode = 'async';
  /** Every dispatch of this quantizer; GPU calibration records its forward passes here too, so
   * that Hessian accumulations follow the activations they read in one command stream. */
  readonly rec: Recorder;

  constructor(readonly ctx: GpuContext) {
    this.rec = new Recorder(ctx);
  }

  /** Dispatches recorded so far (all calls), for tests and the bench. */
  get dispatches(): number {
    return this.rec.counters.dispatches;
  }

  resolve<T>(v: T): Promise<T> {
    return Promise.resolve(v);
  }

  map<A, B>(r: Out<A, 'async'>, f: (a: A) => B): Out<B, 'async'> {
    return r.then(f);
  }

  /** The method switch (quantize-linear.ts) on the GPU: every calibration-free method. */
  async quantizeLinear(w: F32Tensor, spec: QuantSpec): Promise<Tensor> {
    return quantizeLinearOn(this, w, spec);
  }

  /** GPU twin of core quantizeTensor: uniform q8/q4/q3/q2 and codebook nf4/fp4, bit-identical. */
  async quantizeTensor(t: F32Tensor, opts: QuantizeOptions): Promise<QuantTensor> {
    return quantizeTensorOn(this, t, opts);
  }

  /** Uniform RTN: quant_range → quant_params → quant_pack, ≡ quantizeUniformPlan. */
  async uniform(w: F32Tensor, p: UniformPlan): Promise<UniformQuantTensor> {
    checkBits(p.bits);
    const format = uniformFormatForBits(p.container);
    if (!format) throw new NibbleError('unsupported', `no packed format for ${p.container}-bit codes`);
    if (w.data.length !== p.rows * p.cols)
      throw new NibbleError('bad-argument', `quantizeMatrix: ${w.data.length} values for a ${p.rows}×${p.cols} matrix`);
    const sym = storedSym(p);
    const d = {
      rows: p.rows,
      cols: p.cols,
      group: p.group,
      bits: p.bits,
      container: p.container,
      sym: p.sym,
      f16: p.scaleType === 'f16',
      writeZeros: !sym,
      tensor: p.granularity === 'tensor',
    };
    const sz = uniformSizes(d);
    const bufs = {
      w: uploadStorage(this.ctx, w.data, 'rtn-w'),
      ranges: createStorage(this.ctx, sz.ranges * 4, 'rtn-ranges'),
      scales: createStorage(this.ctx, sz.scales * 4, 'rtn-scales'),
      zeros: createStorage(this.ctx, Math.max(1, sz.zeros) * 4, 'rtn-zeros'),
      data: createStorage(this.ctx, sz.data * 4, 'rtn-data'),
      status: createStorage(this.ctx, 4, 'quant-status'),
    };
    try {
      quantUniform(this.rec, d, bufs);
      this.rec.submit();
      const [data, scales, zeros, st] = await readBuffers(this.ctx, [
        [bufs.data, sz.data],
        [bufs.scales, sz.scales],
        [bufs.zeros, sz.zeros],
        [bufs.status, 1],
      ]);
      if (st[0] & 1) throw new NibbleError('bad-argument', 'uniform quantizer: non-finite weight');
      if (st[0] & 2) throw new NibbleError('unsupported', 'a scale overflows fp16 (max 65504): use f32 scales');
      return {
        format,
        shape: [p.rows, p.cols],
        granularity: p.granularity,
        group: p.group,
        sym,
        scaleType: p.scaleType,
        buffers: {
          data,
          scales: p.scaleType === 'f16' ? scales : wordsAsF32(scales),
          ...(sym ? {} : { zeros }),
        },
      };
    } finally {
      Object.values(bufs).forEach((b) => b.destroy());
    }
  }

  /** NF4 / FP4: quant_absmax then quant_nf4; double quantization of the absmax on the CPU. */
  async codebook(
    t: F32Tensor,
    format: CodebookFormat,
    blockSize: number,
    doubleQuant: boolean,
  ): Promise<CodebookQuantTensor> {
    const B = blockSize;
    if (!Number.isInteger(B) || B < 1)
      throw new NibbleError('bad-argument', `4-bit block size ${B}: must be an integer ≥ 1`);
    const n = numel(t.shape);
    if (n === 0) throw new NibbleError('bad-argument', `${format}: empty tensor`);
    const nBlocks = Math.ceil(n / B);
    const nWords = Math.ceil(n / 8);
    const x = uploadStorage(this.ctx, t.data, 'nf4-x');
    const absmax = createStorage(this.ctx, nBlocks * 4, 'nf4-absmax');
    const data = createStorage(this.ctx, nWords * 4, 'nf4-data');
    const status = createStorage(this.ctx, 4, 'quant-status');
    try {
      quant4bit(this.rec, { x, absmax, data, status, n, blockSize: B, fp4: format === 'fp4' });
      this.rec.submit();
      const [d, a, st] = await readBuffers(this.ctx, [
        [data, nWords],
        [absmax, nBlocks],
        [status, 1],
      ]);
      if (st[0] & 1) throw new NibbleError('bad-argument', `${format}: non-finite value`);
      return codebookTensor(format, t.shape, B, d, wordsAsF32(a), doubleQuant);
    } finally {
      [x, absmax, data, status].forEach((b) => b.destroy());
    }
  }

  /** LLM.int8 weight: ≡ packInt8Rows(quantizeRowsInt8(w, N, K), N, K, threshold). */
  async int8Rows(w: F32Tensor, threshold: number): Promise<Int8RowsTensor> {
    const [N, K] = w.shape;
    if (w.data.length !== N * K)
      throw new NibbleError('bad-argument', `int8Rows: ${w.data.length} values for a ${N}×${K} matrix`);
    const wpr = Math.ceil(K / 4);
    const wb = uploadStorage(this.ctx, w.data, 'int8-w');
    const data = createStorage(this.ctx, N * wpr * 4, 'int8-data');
    const scales = createStorage(this.ctx, N * 4, 'int8-scales');
    const status = createStorage(this.ctx, 4, 'quant-status');
    try {
      quantInt8Rows(this.rec, { w: wb, data, scales, status, rows: N, cols: K });
      this.rec.submit();
      const [d, s, st] = await readBuffers(this.ctx, [
        [data, N * wpr],
        [scales, N],
        [status, 1],
      ]);
      if (st[0] & 1) throw new NibbleError('bad-argument', 'absmax int8: non-finite weight');
      return { format: 'llmint8', shape: [N, K], threshold, buffers: { data: d, scales: wordsAsF32(s) } };
    } finally {
      [wb, data, scales, status].forEach((b) => b.destroy());
    }
  }

  /** ≡ roundArrayToFloat(x, format, overflow). */
  async roundToFloat(x: Float32Array, format: FloatFormat, overflow?: Overflow): Promise<Float32Array> {
    if (!FLOAT_SPECS[format]) throw new NibbleError('bad-argument', `unknown float format '${format}'`);
    return this.elementwise(x, (xb, out) => floatRound(this.rec, { x: xb, out, n: x.length, format, overflow }));
  }

  /** ≡ truncateFraction(x, k) ('truncate') or roundFraction(x, k) ('rne'). */
  async truncate(x: Float32Array, k: number, mode: 'truncate' | 'rne'): Promise<Float32Array> {
    if (!Number.isInteger(k) || k < 0 || k > 23)
      throw new RangeError(`fraction bits k = ${k}: must be an integer in 0..23`);
    return this.elementwise(x, (xb, out) => floatTrunc(this.rec, { x: xb, out, n: x.length, k, mode }));
  }

  /** A Hessian accumulator on the GPU for a layer with `cols` inputs (its own buffer). */
  hessian(cols: number): GpuHessian {
    return new GpuHessian(this.ctx, this.rec, cols);
  }

  /**
   * CPU rows: uploads them and records + submits one hessian_accum GEMM. GPU rows (a calibration
   * forward's activation buffer): records the GEMM reading them in place, submitted by
   * finishHessian (or the caller's next submit).
   */
  accumulateHessian(h: GpuHessian, a: ActivationRows | GpuActivationRows): void {
    if ('buffer' in a) h.record(this.rec, a.buffer, a.offset, a.rows);
    else h.add(a.x, a.rows);
  }

  /** Submits what is recorded; queue order puts every accumulation before gptq's reads. */
  async finishHessian(): Promise<void> {
    this.rec.submit();
  }

  releaseHessian(h: GpuHessian): void {
    h.destroy();
  }

  /** GPTQ of W (rows, cols) with H (a GpuHessian, or a (cols, cols) matrix as the CPU twin takes). */
  gptq(
    W: Float32Array,
    rows: number,
    cols: number,
    H: GpuHessian | Float64Array | Float32Array,
    opts: GptqOptions,
  ): Promise<GptqResult> {
    return gptqOnGpu(this.ctx, this.rec, W, rows, cols, H, opts);
  }

  /** ≡ codeHistogram(t, w, bits): code counts and (with w) clipped-at-ends counts. */
  async histogram(
    t: UniformQuantTensor,
    w?: Float32Array,
    bits: number = UNIFORM_BITS[t.format],
  ): Promise<CodeHistogram> {
    const [rows, cols] = t.shape;
    const container = UNIFORM_BITS[t.format];
    if (w && w.length !== rows * cols)
      throw new NibbleError('bad-argument', `histogram: ${w.length} weights for a ${rows}×${cols} tensor`);
    const owned: GPUBuffer[] = [];
    const up = (a: Float32Array | Uint32Array, label: string) => {
      const b = uploadStorage(this.ctx, a, label);
      owned.push(b);
      return b;
    };
    try {
      const data = up(t.buffers.data, 'hist-data');
      const out = createStorage(this.ctx, HISTOGRAM_WORDS * 4, 'hist-out');
      owned.push(out);
      const clip = w
        ? {
            w: up(w, 'hist-w'),
            scales: up(unpackScales(t), 'hist-scales'),
            zeros: up(Uint32Array.from(unpackZeros(t)), 'hist-zeros'),
            group: t.group,
            bits,
            gIdx: t.buffers.gIdx ? up(t.buffers.gIdx, 'hist-gidx') : undefined,
          }
        : undefined;
      histogram(this.rec, { data, out, rows, cols, container, clip });
      this.rec.submit();
      const [h] = await readBuffers(this.ctx, [[out, HISTOGRAM_WORDS]]);
      return { counts: h.slice(0, 2 ** container), clippedLow: h[256], clippedHigh: h[257] };
    } finally {
      owned.forEach((b) => b.destroy());
    }
  }

  dispose(): void {
    this.rec.dispose();
  }

  /** x → out through one elementwise kernel, read back as f32. */
  private async elementwise(x: Float32Array, record: (x: GPUBuffer, out: GPUBuffer) => void): Promise<Float32Array> {
    if (x.length === 0) return new Float32Array(0);
    const xb = uploadStorage(this.ctx, x, 'float-x');
    const out = createStorage(this.ctx, x.length * 4, 'float-out');
    try {
      record(xb, out);
      this.rec.submit();
      const [o] = await readBuffers(this.ctx, [[out, x.length]]);
      return wordsAsF32(o);
    } finally {
      xb.destroy();
      out.destroy();
    }
  }
}
