// GPU calibration: the calibration windows' forward pass, one block at a time, on the GPU, with
// the statistics read from the activation buffers where the block's kernels leave them.
//   X (Σ T_w, dim): every window's residual stream entering the current layer (the embeddings,
//                   gathered on the CPU and uploaded once; then advanced block by block).
//   per pass: block l's weights as they stand (earlier layers, and earlier true-sequential
//   groups of l, already quantized) are uploaded, each window's rows are copied into the block's
//   activation buffer x and run through recordBlock (the runner's prefill sequence, the GEMM
//   path) in chunks of ≤ `chunk` rows with one layer's KV cache; `observe` gets each linear's
//   input buffer; with `advance` the result is copied back into X. Everything is recorded into
//   the GpuQuantizer's recorder, so Hessian accumulations (hessian_accum reading the activation
//   buffer in place) and abs-max reductions (absmax_cols) follow their activations in order.
// GPU memory: X, one layer's weights and KV cache, activations for `chunk` rows. Nothing is read
// back but what the caller asks for (Hessians' diagonals inside GPTQ, abs-max vectors).
import { NibbleError } from '../../core/errors.ts';
import type { LinearInputSite } from '../../core/model/forward.ts';
import { f32Values } from '../../core/model/linear.ts';
import { kvDim, type LlamaModel } from '../../core/model/model.ts';
import { embed } from '../../core/model/ops.ts';
import { ropeInvFreq } from '../../core/model/rope.ts';
import { recordBlock, type BlockActivations, type BlockDims } from '../../gpu/block-forward.ts';
import { createStorage, uploadStorage } from '../../gpu/buffers.ts';
import * as k from '../../gpu/kernels.ts';
import { matmulScratchBytes } from '../../gpu/matmul-quant.ts';
import { uploadLayerWeights, type GpuLayerWeights } from '../../gpu/model-weights.ts';
import { uploadF32, uploadLinear, weightBuffers } from '../../gpu/weights.ts';
import type { GpuQuantizer } from '../quant/gpu-backend.ts';

/** Rows per block dispatch: activation buffers hold this many rows (a window runs in chunks). */
const MAX_CHUNK = 256;

export interface CalibrationPass {
  /** Called with each linear input's buffer: rows 0..rows − 1 at offset 0, `cols` wide. */
  observe?: (site: LinearInputSite, x: GPUBuffer, rows: number) => void;
  until?: LinearInputSite; // stop each block after observing this site
  advance?: boolean; // write the block's output back as the next layer's input
}

export class GpuCalibrator {
  private readonly owned: GPUBuffer[] = [];
  private readonly dims: BlockDims;
  private readonly X: GPUBuffer; // (Σ T_w, dim)
  private readonly starts: number[]; // first row of each window in X
  private readonly act: BlockActivations;
  private readonly kcache: GPUBuffer; // (maxLen, kvDim), one layer's, reused
  private readonly vcache: GPUBuffer;
  private readonly ropeTable: GPUBuffer; // (maxLen, hs/2)
  private readonly chunk: number;
  private scratch: GPUBuffer | null = null; // LLM.int8 GEMM scratch, grown on demand
  private readonly pending: GPUBuffer[] = []; // layer weights the recorded, not yet freed, work reads
  private disposed = false;

  /** `model` is read at each pass (its layers may be replaced between passes); windows are token ids. */
  constructor(
    private readonly gq: GpuQuantizer,
    private readonly model: LlamaModel,
    private readonly windows: readonly (readonly number[])[],
  ) {
    const c = model.config;
    const ctx = gq.ctx;
    if (windows.length === 0) throw new NibbleError('bad-argument', 'GPU calibration needs at least one window');
    for (const w of windows) {
      if (w.length < 1 || w.length > c.seqLen)
        throw new NibbleError('bad-argument', `a calibration window of ${w.length} tokens (context ${c.seqLen})`);
      for (const t of w) {
        if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize)
          throw new NibbleError('bad-argument', `calibration token ${t} is outside the vocabulary of ${c.vocabSize}`);
      }
    }
    const hs = c.headSize;
    this.dims = {
      dim: c.dim,
      hidden: c.hiddenDim,
      nHeads: c.nHeads,
      nKv: c.nKvHeads,
      hs,
      eps: c.normEps,
      ropeStyle: c.ropeStyle,
    };
    const maxLen = Math.max(...windows.map((w) => w.length));
    this.chunk = Math.min(maxLen, MAX_CHUNK);
    const own = (b: GPUBuffer): GPUBuffer => (this.owned.push(b), b);
    try {
      this.starts = [];
      let rows = 0;
      for (const w of windows) {
        this.starts.push(rows);
        rows += w.length;
      }
      // Embeddings gathered on the CPU (the table stays off the GPU), one window at a time.
      this.X = own(createStorage(ctx, rows * c.dim * 4, 'calib-x-all'));
      const table = f32Values(model.weights.tokEmb);
      windows.forEach((w, i) => {
        const e = new Float32Array(w.length * c.dim);
        embed(e, table, w, c.dim);
        ctx.device.queue.writeBuffer(this.X, this.starts[i] * c.dim * 4, e);
      });
      const qDim = c.nHeads * hs;
      const kvd = kvDim(c);
      const a = (cols: number, label: string) => own(createStorage(ctx, this.chunk * cols * 4, label));
      this.act = {
        x: a(c.dim, 'calib-x'),
        xn: a(c.dim, 'calib-xn'),
        qkv: a(qDim + 2 * kvd, 'calib-qkv'),
        att: a(qDim, 'calib-att'),
        gu: a(2 * c.hiddenDim, 'calib-gu'),
        h: a(c.hiddenDim, 'calib-h'),
      };
      this.kcache = own(createStorage(ctx, maxLen * kvd * 4, 'calib-kcache'));
      this.vcache = own(createStorage(ctx, maxLen * kvd * 4, 'calib-vcache'));
      this.ropeTable = own(uploadStorage(ctx, k.ropeTableOf(maxLen, ropeInvFreq(c)), 'calib-rope'));
    } catch (e) {
      this.owned.forEach((b) => b.destroy());
      throw e;
    }
  }

  /** Width of each site's input. */
  cols(site: LinearInputSite): number {
    const c = this.model.config;
    return { attn: c.dim, wo: c.nHeads * c.headSize, ffn: c.dim, w2: c.hiddenDim }[site];
  }

  /**
   * Records block l (as the model holds it now) over every window; see CalibrationPass. Nothing
   * is submitted: the caller submits the quantizer's recorder (finishHessian, or readback).
   * The layer's uploaded weights are freed once the recorded work is submitted, by `submit`.
   */
  record(l: number, pass: CalibrationPass): void {
    if (this.disposed) throw new NibbleError('bad-argument', 'this GPU calibrator was disposed');
    const ctx = this.gq.ctx;
    const rec = this.gq.rec;
    const c = this.model.config;
    const layerBufs: GPUBuffer[] = [];
    const cap = Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);
    const L: GpuLayerWeights = uploadLayerWeights(
      this.model,
      l,
      (t, label) => {
        const b = uploadF32(ctx, t, label);
        layerBufs.push(b);
        return b;
      },
      (parts, label) => {
        const w = uploadLinear(ctx, parts, label, cap);
        layerBufs.push(...weightBuffers(w));
        return w;
      },
    );
    this.pending.push(...layerBufs);
    const need = Math.max(...[L.wqkv, L.wo, L.w13, L.w2].map((w) => matmulScratchBytes(w, this.chunk)));
    if (need > (this.scratch?.size ?? 0)) {
      if (this.scratch) this.pending.push(this.scratch);
      this.scratch = createStorage(ctx, need, 'calib-int8-scratch');
    }
    const scratch = this.scratch ?? undefined;
    const matmul = (a: Omit<k.MatmulArgs, 'scratch'>) => k.matmul(rec, { ...a, scratch });
    const rowBytes = c.dim * 4;
    this.windows.forEach((w, wi) => {
      for (let off = 0; off < w.length; off += this.chunk) {
        const M = Math.min(this.chunk, w.length - off);
        const at = (this.starts[wi] + off) * rowBytes;
        rec.copy(this.X, at, this.act.x, 0, M * rowBytes);
        recordBlock(rec, this.dims, L, this.act, {
          M,
          pos0: off,
          kcache: this.kcache,
          vcache: this.vcache,
          ropeTable: this.ropeTable,
          fused: false,
          matmul,
          observe: pass.observe && ((site, x) => pass.observe!(site, x, M)),
          until: pass.until,
        });
        if (pass.advance) rec.copy(this.act.x, 0, this.X, at, M * rowBytes);
      }
    });
  }

  /** Submits what is recorded and frees the layer weights it read (freed after the GPU is done). */
  submit(): void {
    this.gq.rec.submit();
    this.release();
  }

  /** Frees the layer weights of passes that have been submitted (by submit() or by the quantizer). */
  release(): void {
    this.pending.splice(0).forEach((b) => b.destroy());
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
    this.scratch?.destroy();
    this.owned.forEach((b) => b.destroy());
  }
}
