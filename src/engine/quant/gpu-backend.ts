// GpuQuantizer: the quantization suite on the GPU, with the same inputs and results as the CPU
// twins the model pipeline (src/engine/quantize.ts) calls today:
//   quantizeLinear(w, spec)  ≡ quantizeLinear            (rtn, nf4/fp4, llmint8, float formats, trunc)
//   quantizeTensor(t, opts)  ≡ core quantizeTensor       (bit-identical packed layouts)
//   hessian(cols)            ≈ HessianAccumulator        (f32 on the GPU; add(X, tokens), read())
//   gptq(W, rows, cols, H)   ≈ gptqQuantize              (f32; same GptqResult shape)
//   histogram(t, w?)         ≡ core codeHistogram
// Every call uploads its inputs, records one command buffer, reads the results back in one
// staging copy and frees its buffers; the device is the caller's (a GpuContext).
import { NibbleError } from '../core/errors.ts';
import { type GptqOptions, type GptqResult } from '../core/quant/gptq.ts';
import { type Int8RowsTensor } from '../core/quant/llmint8.ts';
import { FLOAT_SPECS, type FloatFormat, type Overflow } from '../core/quant/float-formats.ts';
import {
  UNIFORM_BITS,
  isCodebookFormat,
  isUniformFormat,
  unpackScales,
  unpackZeros,
  type CodebookQuantTensor,
  type QuantTensor,
  type UniformQuantTensor,
} from '../core/quant/format.ts';
import type { CodeHistogram } from '../core/quant/histogram.ts';
import { doubleQuantize } from '../core/quant/nf4.ts';
import { packU8 } from '../core/quant/packing.ts';
import type { QuantizeOptions } from '../core/quant/quantize-tensor.ts';
import { checkBits, groupLayout, requireWholeGroups } from '../core/quant/uniform.ts';
import { f32Tensor, numel, type F32Tensor, type Tensor } from '../core/tensor.ts';
import { createStorage, uploadStorage } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/device.ts';
import { quant4bit } from '../gpu/quant-codebook.ts';
import { floatRound, floatTrunc } from '../gpu/quant-float.ts';
import { GpuHessian, gptqOnGpu } from '../gpu/quant-gptq.ts';
import { HISTOGRAM_WORDS, histogram } from '../gpu/quant-histogram.ts';
import { QuantRecorder, readBuffers } from '../gpu/quant-pipelines.ts';
import { quantInt8Rows, quantUniform, uniformSizes, type UniformDims } from '../gpu/quant-rtn.ts';
import type { QuantSpec } from '../core/quant/quant-spec.ts';

const FLOAT_METHODS: Record<string, FloatFormat> = {
  fp16: 'fp16',
  bf16: 'bf16',
  tf32: 'tf32',
  'fp8-e4m3': 'fp8e4m3',
  'fp8-e5m2': 'fp8e5m2',
};

const asF32 = (u: Uint32Array): Float32Array => new Float32Array(u.buffer, u.byteOffset, u.length);

export class GpuQuantizer {
  private readonly rec: QuantRecorder;

  constructor(readonly ctx: GpuContext) {
    this.rec = new QuantRecorder(ctx);
  }

  /** Dispatches recorded so far (all calls), for tests and the bench. */
  get dispatches(): number {
    return this.rec.counters.dispatches;
  }

  /** GPU twin of quantizeLinear (src/engine/quantize.ts) for the calibration-free methods. */
  async quantizeLinear(w: F32Tensor, spec: QuantSpec): Promise<Tensor> {
    const [N, K] = w.shape;
    switch (spec.method) {
      case 'fp32':
        return w;
      case 'rtn': {
        const group = spec.group > 0 && spec.group < K ? spec.group : undefined;
        const granularity = group ? 'group' : 'row';
        if (spec.bits === 2 || spec.bits === 3 || spec.bits === 4 || spec.bits === 8) {
          return this.quantizeTensor(w, {
            format: `q${spec.bits}` as 'q4',
            granularity,
            group,
            sym: spec.sym,
            scaleType: spec.scaleType,
          });
        }
        // 5–7-bit codes in 8-bit containers with explicit zero points and f32 scales (as the CPU).
        checkBits(spec.bits);
        const G = groupLayout({ granularity, group }, K).group;
        const out = await this.uniform(w.data, {
          rows: N,
          cols: K,
          group: G,
          bits: spec.bits,
          container: 8,
          sym: spec.sym,
          f16: false,
          writeZeros: true,
          tensor: false,
        });
        return {
          format: 'q8',
          shape: [N, K],
          granularity: G < K ? 'group' : 'row',
          group: G,
          sym: false,
          scaleType: 'f32',
          buffers: { data: out.data, scales: asF32(out.scales), zeros: out.zeros },
        };
      }
      case 'nf4':
      case 'fp4':
        return this.quantizeTensor(w, { format: spec.method, group: spec.group || 64, doubleQuant: spec.doubleQuant });
      case 'llmint8':
        return this.int8Rows(w, spec.threshold);
      case 'trunc':
        return f32Tensor([N, K], await this.truncate(w.data, spec.mantissaBits, spec.truncMode));
      default: {
        const fmt = FLOAT_METHODS[spec.method];
        if (fmt) return f32Tensor([N, K], await this.roundToFloat(w.data, fmt));
        throw new NibbleError('bad-argument', `method ${spec.method} needs calibration data`);
      }
    }
  }

  /** GPU twin of core quantizeTensor: uniform q8/q4/q3/q2 and codebook nf4/fp4, bit-identical. */
  async quantizeTensor(t: F32Tensor, opts: QuantizeOptions): Promise<QuantTensor> {
    if (isCodebookFormat(opts.format)) return this.codebook(t, opts);
    if (!isUniformFormat(opts.format))
      throw new NibbleError('unsupported', `quantizeTensor: unknown format '${String(opts.format)}'`);
    const format = opts.format;
    if (t.shape.length !== 2)
      throw new NibbleError('bad-argument', `${format}: expects a matrix [out, in], got shape [${t.shape}]`);
    const [rows, cols] = t.shape;
    const granularity = opts.granularity ?? (opts.group !== undefined ? 'group' : 'row');
    if (granularity === 'group' && opts.strictGroups) requireWholeGroups(opts.group ?? NaN, cols);
    const scaleType = opts.scaleType ?? 'f32';
    const bits = UNIFORM_BITS[format];
    const sym = opts.sym ?? false;
    const { group } = groupLayout({ granularity, group: opts.group }, cols);
    const out = await this.uniform(t.data, {
      rows,
      cols,
      group,
      bits,
      container: bits,
      sym,
      f16: scaleType === 'f16',
      writeZeros: !sym,
      tensor: granularity === 'tensor',
    });
    return {
      format,
      shape: [rows, cols],
      granularity,
      group,
      sym,
      scaleType,
      buffers: {
        data: out.data,
        scales: scaleType === 'f16' ? out.scales : asF32(out.scales),
        ...(sym ? {} : { zeros: out.zeros }),
      },
    };
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
      return { format: 'llmint8', shape: [N, K], threshold, buffers: { data: d, scales: asF32(s) } };
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

  /** A Hessian accumulator on the GPU for a layer with `cols` inputs. */
  hessian(cols: number): GpuHessian {
    return new GpuHessian(this.ctx, this.rec, cols);
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

  // ---- internals ---------------------------------------------------------------------------

  private async uniform(
    w: Float32Array,
    d: UniformDims,
  ): Promise<{ data: Uint32Array; scales: Uint32Array; zeros?: Uint32Array }> {
    checkBits(d.bits);
    if (w.length !== d.rows * d.cols)
      throw new NibbleError('bad-argument', `quantizeMatrix: ${w.length} values for a ${d.rows}×${d.cols} matrix`);
    const sz = uniformSizes(d);
    const bufs = {
      w: uploadStorage(this.ctx, w, 'rtn-w'),
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
      return { data, scales, ...(d.writeZeros ? { zeros } : {}) };
    } finally {
      Object.values(bufs).forEach((b) => b.destroy());
    }
  }

  private async codebook(t: F32Tensor, opts: QuantizeOptions): Promise<CodebookQuantTensor> {
    const format = opts.format as CodebookQuantTensor['format'];
    const B = opts.group ?? 64;
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
      const base = { format, shape: [...t.shape], group: B, sym: true as const };
      if (!opts.doubleQuant) return { ...base, scaleType: 'f32', buffers: { data: d, scales: asF32(a) } };
      const dq = doubleQuantize(asF32(a), 256); // small (one value per 64 weights): stays on the CPU
      return {
        ...base,
        scaleType: 'dq8',
        scaleOffset: dq.offset,
        buffers: { data: d, scales: packU8(dq.codes), scales2: dq.absmax2 },
      };
    } finally {
      [x, absmax, data, status].forEach((b) => b.destroy());
    }
  }

  private async elementwise(x: Float32Array, record: (x: GPUBuffer, out: GPUBuffer) => void): Promise<Float32Array> {
    if (x.length === 0) return new Float32Array(0);
    const xb = uploadStorage(this.ctx, x, 'float-x');
    const out = createStorage(this.ctx, x.length * 4, 'float-out');
    try {
      record(xb, out);
      this.rec.submit();
      const [o] = await readBuffers(this.ctx, [[out, x.length]]);
      return asF32(o);
    } finally {
      xb.destroy();
      out.destroy();
    }
  }
}
