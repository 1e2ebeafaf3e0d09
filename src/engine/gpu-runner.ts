// The WebGPU backend of ModelRunner: weights uploaded once, the KV cache on the GPU, and one
// command buffer + one submit per step() with all layers' dispatches in it.
//
// Dispatches per decode token (M = 1): 6 per layer + 3 = 6·nLayers + 3 (33 for stories260K),
// for f32 and for every packed format alike (q8/q4/q3/q2, nf4/fp4, llm.int8):
//   embed
//   per layer: [RMSNorm → wq;wk;wv]  rope+KV write  attention  [wo + residual]
//              [RMSNorm → w1;w3]  [SwiGLU → w2 + residual]          (brackets: one GEMV each)
//   [final RMSNorm → classifier]  argmax (want 'argmax'; 'logits' copies the logits instead)
// Quantized linears stay packed on the GPU; their GEMVs decode in registers with the same
// fusions. A stacked linear whose parts could not be merged (src/gpu/weights.ts: different
// formats or groups) costs one more dispatch per extra part.
// Prefill (M > 1) runs the same per chunk of up to `prefillChunk` tokens with the GEMM and
// separate RMSNorm / SiLU·mul kernels (9 per layer + 1; LLM.int8 adds one activation-quantize
// dispatch per matmul), and the classifier only for the last position. logitsAll (evaluation) runs the prefill path from position 0 and the final
// RMSNorm + classifier on every row, in one submit.
import { assertRunnable } from '../core/hf/runnable.ts';
import { NibbleError } from '../core/errors.ts';
import { kvDim, type LlamaModel } from '../core/model.ts';
import { createReadback, createStorage, mapRead, uploadStorage } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/device.ts';
import * as k from '../gpu/kernels.ts';
import { matmulScratchBytes } from '../gpu/matmul-quant.ts';
import type { Constants, KernelName } from '../gpu/pipelines.ts';
import { Recorder } from '../gpu/recorder.ts';
import { uploadF32, uploadLinear, weightBuffers, weightBytesByFormat, type GpuWeight } from '../gpu/weights.ts';
import type { ModelRunner, RunnerCounters, RunnerMemory, StepResult } from './runner.ts';

export interface GpuRunnerOptions {
  /** Most tokens one prefill pass handles (activation buffers hold this many rows). Default min(seqLen, 64). */
  prefillChunk?: number;
}

interface GpuLayer {
  rmsAtt: GPUBuffer; // (dim)
  wqkv: GpuWeight; // (qDim + 2·kvDim, dim): wq; wk; wv stacked
  wo: GpuWeight; // (dim, qDim)
  rmsFfn: GPUBuffer; // (dim)
  w13: GpuWeight; // (2·hidden, dim): w1 (gate); w3 (up) stacked
  w2: GpuWeight; // (dim, hidden)
  kcache: GPUBuffer; // (seqLen, kvDim)
  vcache: GPUBuffer; // (seqLen, kvDim)
}

export async function createGpuRunner(ctx: GpuContext, model: LlamaModel, opts: GpuRunnerOptions = {}): Promise<ModelRunner> {
  assertRunnable(model, 'the WebGPU runner');
  const c = model.config;
  const w = model.weights;
  const hs = c.headSize;
  const qDim = c.nHeads * hs;
  const kvd = kvDim(c);
  const qkvCols = qDim + 2 * kvd;
  if (hs % 2 || hs > k.MAX_HEAD_SIZE || c.nHeads % c.nKvHeads) {
    throw new NibbleError('unsupported', `the GPU kernels need an even head size <= ${k.MAX_HEAD_SIZE} and nHeads % nKvHeads = 0 (head size ${hs}, ${c.nHeads}/${c.nKvHeads} heads)`);
  }
  const chunk = Math.min(c.seqLen, opts.prefillChunk ?? 64);
  if (!Number.isInteger(chunk) || chunk < 1) throw new NibbleError('bad-argument', `prefillChunk must be a positive integer, got ${opts.prefillChunk}`);

  const owned: GPUBuffer[] = [];
  const own = (b: GPUBuffer): GPUBuffer => (owned.push(b), b);
  const weightBufs = new Set<GPUBuffer>(); // for memory()
  const ownW = (g: GpuWeight): GpuWeight => (weightBuffers(g).forEach((buf) => weightBufs.add(own(buf))), g);
  const ownF32 = (buf: GPUBuffer): GPUBuffer => (weightBufs.add(own(buf)), buf);
  try {
    // Weights, once. The matmul wrapper picks each kernel by the weight's format tag.
    const tokEmb = ownF32(uploadF32(ctx, w.tokEmb, 'tok_emb'));
    const layers: GpuLayer[] = w.layers.map((l, i) => ({
      rmsAtt: ownF32(uploadF32(ctx, l.rmsAtt, `l${i}.rms_att`)),
      wqkv: ownW(uploadLinear(ctx, [l.wq, l.wk, l.wv], `l${i}.wqkv`)),
      wo: ownW(uploadLinear(ctx, [l.wo], `l${i}.wo`)),
      rmsFfn: ownF32(uploadF32(ctx, l.rmsFfn, `l${i}.rms_ffn`)),
      w13: ownW(uploadLinear(ctx, [l.w1, l.w3], `l${i}.w13`)),
      w2: ownW(uploadLinear(ctx, [l.w2], `l${i}.w2`)),
      kcache: own(createStorage(ctx, c.seqLen * kvd * 4, `l${i}.kcache`)),
      vcache: own(createStorage(ctx, c.seqLen * kvd * 4, `l${i}.vcache`)),
    }));
    const rmsFinal = ownF32(uploadF32(ctx, w.rmsFinal, 'rms_final'));
    const wcls: GpuWeight =
      w.wcls === w.tokEmb && w.tokEmb.format === 'f32'
        ? { format: 'f32', n: c.vocabSize, k: c.dim, data: tokEmb } // shared classifier: one buffer
        : ownW(uploadLinear(ctx, [w.wcls], 'wcls'));
    const ropeTable = own(uploadStorage(ctx, k.ropeTable(c.seqLen, hs, c.ropeTheta), 'rope_cs'));
    const linears: GpuWeight[] = [...layers.flatMap((L) => [L.wqkv, L.wo, L.w13, L.w2]), wcls];

    // Activations for up to `chunk` rows.
    const act = (cols: number, label: string): GPUBuffer => own(createStorage(ctx, chunk * cols * 4, label));
    const b = {
      tokens: own(createStorage(ctx, c.seqLen * 4, 'tokens')), // (seqLen) u32: the step's ids
      x: act(c.dim, 'x'), // (M, dim) residual stream
      xn: act(c.dim, 'xn'), // (M, dim) normed (prefill)
      qkv: act(qkvCols, 'qkv'), // (M, qDim + 2·kvDim)
      att: act(qDim, 'att'), // (M, qDim)
      gu: act(2 * c.hiddenDim, 'gu'), // (M, 2·hidden) [gate | up]
      h: act(c.hiddenDim, 'h'), // (M, hidden) silu(gate)·up (prefill)
      logits: own(createStorage(ctx, c.vocabSize * 4, 'logits')), // (vocab)
      token: own(createStorage(ctx, 4, 'argmax')), // (1) u32
    };
    // LLM.int8 prefill: outlier mask, row scales and int8 x of one matmul at a time (reused).
    const scratchBytes = Math.max(...linears.map((lw) => matmulScratchBytes(lw, chunk)));
    const scratch = scratchBytes > 0 ? own(createStorage(ctx, scratchBytes, 'int8-scratch')) : undefined;
    const matmul = (a: Omit<k.MatmulArgs, 'scratch'>): void => k.matmul(rec, { ...a, scratch });
    const readToken = own(createReadback(ctx, 4, 'argmax-read'));
    const readLogits = own(createReadback(ctx, c.vocabSize * 4, 'logits-read'));

    await warmPipelines(ctx, [
      ...layers.flatMap((L): MatmulUse[] => [
        [L.wqkv, 'rmsnorm', false],
        [L.wo, 'none', true],
        [L.w13, 'rmsnorm', false],
        [L.w2, 'swiglu', true],
      ]),
      [wcls, 'rmsnorm', false],
    ]);

    const rec = new Recorder(ctx);
    const counters: RunnerCounters = { submits: 0, dispatches: 0, forwards: 0 };
    const eps = c.normEps;
    let busy = false;
    let disposed = false;

    /**
     * Records embedding + all blocks for M tokens (ids at tokOff in b.tokens) at positions
     * p0..; `afterBlock(l)` may record copies of the residual stream b.x after block l.
     */
    function recordBlocks(M: number, p0: number, tokOff: number, afterBlock?: (l: number) => void): void {
      k.embed(rec, { tokens: b.tokens, tokOff, table: tokEmb, out: b.x, M, dim: c.dim, vocab: c.vocabSize });
      for (const [l, L] of layers.entries()) {
        // attention block: x += wo · attention(rope(wqkv · rmsnorm(x)))
        if (M === 1) {
          matmul({ x: b.x, w: L.wqkv, out: b.qkv, M, prologue: { kind: 'rmsnorm', weight: L.rmsAtt, eps } });
        } else {
          k.rmsnorm(rec, { x: b.x, weight: L.rmsAtt, out: b.xn, M, dim: c.dim, eps });
          matmul({ x: b.xn, w: L.wqkv, out: b.qkv, M });
        }
        k.rope(rec, {
          qkv: b.qkv, kcache: L.kcache, vcache: L.vcache, table: ropeTable, M, pos0: p0,
          nHeads: c.nHeads, nKv: c.nKvHeads, hs, stride: qkvCols, kOff: qDim, vOff: qDim + kvd, style: c.ropeStyle,
        });
        k.attention(rec, {
          q: b.qkv, qStride: qkvCols, kcache: L.kcache, vcache: L.vcache, out: b.att, M, pos0: p0,
          nHeads: c.nHeads, nKv: c.nKvHeads, hs,
        });
        matmul({ x: b.att, w: L.wo, out: b.x, M, accumulate: true });
        // feed-forward block: x += w2 · (silu(w1 · xn) ⊙ w3 · xn), xn = rmsnorm(x)
        if (M === 1) {
          matmul({ x: b.x, w: L.w13, out: b.gu, M, prologue: { kind: 'rmsnorm', weight: L.rmsFfn, eps } });
          matmul({ x: b.gu, w: L.w2, out: b.x, M, prologue: { kind: 'swiglu' }, accumulate: true });
        } else {
          k.rmsnorm(rec, { x: b.x, weight: L.rmsFfn, out: b.xn, M, dim: c.dim, eps });
          matmul({ x: b.xn, w: L.w13, out: b.gu, M });
          k.siluMul(rec, { gu: b.gu, out: b.h, M, H: c.hiddenDim });
          matmul({ x: b.h, w: L.w2, out: b.x, M, accumulate: true });
        }
        afterBlock?.(l);
      }
    }

    function validate(tokens: readonly number[], pos: number): void {
      if (disposed) throw new NibbleError('bad-argument', 'this GPU runner was disposed; load the model again');
      if (busy) throw new NibbleError('bad-argument', 'step() called while another step is running; await each step');
      if (tokens.length < 1) throw new NibbleError('bad-argument', 'step() needs at least one token');
      if (!Number.isInteger(pos) || pos < 0 || pos + tokens.length > c.seqLen) {
        throw new NibbleError('bad-argument', `positions ${pos}..${pos + tokens.length - 1} are outside the context of ${c.seqLen}`);
      }
      for (const t of tokens) {
        if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new NibbleError('bad-argument', `token ${t} is outside the vocabulary of ${c.vocabSize}`);
      }
    }

    /** Runs `work` with the device checked, the runner marked busy and a failed recording dropped. */
    async function guarded<T>(tokens: readonly number[], pos: number, work: () => Promise<T>): Promise<T> {
      const lost = ctx.lostError();
      if (lost) throw lost;
      validate(tokens, pos);
      busy = true;
      try {
        ctx.device.queue.writeBuffer(b.tokens, 0, Uint32Array.from(tokens));
        return await work();
      } catch (e) {
        rec.discard();
        throw ctx.lostError() ?? e; // e.g. a map that failed because the device went away
      } finally {
        busy = false;
      }
    }

    function submitted(): void {
      rec.submit();
      counters.forwards++;
      counters.submits = rec.counters.submits;
      counters.dispatches = rec.counters.dispatches;
    }

    const step = (tokens: readonly number[], pos: number, want: 'argmax' | 'logits'): Promise<StepResult> =>
      guarded(tokens, pos, async () => {
        let M = 0;
        for (let off = 0; off < tokens.length; off += chunk) {
          M = Math.min(chunk, tokens.length - off);
          recordBlocks(M, pos + off, off);
        }
        // Logits of the last position only: final RMSNorm fused into the classifier GEMV.
        const lastRow = { x: b.x, xOff: (M - 1) * c.dim, w: wcls, out: b.logits, M: 1 };
        matmul({ ...lastRow, prologue: { kind: 'rmsnorm', weight: rmsFinal, eps } });
        if (want === 'argmax') {
          k.argmax(rec, { x: b.logits, n: c.vocabSize, out: b.token });
          rec.copy(b.token, 0, readToken, 0, 4);
        } else {
          rec.copy(b.logits, 0, readLogits, 0, c.vocabSize * 4);
        }
        submitted();
        if (want === 'argmax') {
          const id = new Uint32Array(await mapRead(readToken, 4))[0];
          return { kind: 'argmax', token: id };
        }
        return { kind: 'logits', logits: new Float32Array(await mapRead(readLogits, c.vocabSize * 4)) };
      });

    let chunkLogits: GPUBuffer | null = null; // (chunk, vocab), made on first logitsAll

    /** Every position's logits (T, vocab) from position 0, and optionally each block's residual stream. */
    const logitsAll = (tokens: readonly number[], opts?: { residuals?: boolean }) =>
      guarded(tokens, 0, async () => {
        const T = tokens.length;
        const V = c.vocabSize;
        const rowBytes = c.dim * 4;
        chunkLogits ??= own(createStorage(ctx, chunk * V * 4, 'logits-chunk'));
        const outLogits = createReadback(ctx, T * V * 4, 'logits-all-read');
        const outResid = opts?.residuals ? createReadback(ctx, c.nLayers * T * rowBytes, 'residuals-read') : null;
        try {
          for (let off = 0; off < T; off += chunk) {
            const M = Math.min(chunk, T - off);
            recordBlocks(M, off, off, (l) => outResid && rec.copy(b.x, 0, outResid, (l * T + off) * rowBytes, M * rowBytes));
            k.rmsnorm(rec, { x: b.x, weight: rmsFinal, out: b.xn, M, dim: c.dim, eps });
            matmul({ x: b.xn, w: wcls, out: chunkLogits, M });
            rec.copy(chunkLogits, 0, outLogits, off * V * 4, M * V * 4);
          }
          submitted();
          const logits = new Float32Array(await mapRead(outLogits, T * V * 4));
          if (!outResid) return { logits };
          const all = new Float32Array(await mapRead(outResid, c.nLayers * T * rowBytes));
          return { logits, residuals: layers.map((_, l) => all.slice(l * T * c.dim, (l + 1) * T * c.dim)) };
        } finally {
          outLogits.destroy();
          outResid?.destroy();
        }
      });

    const kvBufs = new Set(layers.flatMap((L) => [L.kcache, L.vcache]));
    const bytesOf = (bufs: Iterable<GPUBuffer>): number => [...bufs].reduce((n, buf) => n + buf.size, 0);
    function memory(): RunnerMemory {
      const byFormat: Record<string, number> = {
        f32: bytesOf([tokEmb, rmsFinal, ...layers.flatMap((L) => [L.rmsAtt, L.rmsFfn])]),
      };
      const counted = new Set<GPUBuffer>([tokEmb]); // a shared classifier is the embedding table
      let linearBytes = 0;
      for (const lw of linears) {
        if (weightBuffers(lw).every((buf) => counted.has(buf))) continue; // the shared classifier
        weightBuffers(lw).forEach((buf) => counted.add(buf));
        for (const [f, n] of Object.entries(weightBytesByFormat(lw))) byFormat[f] = (byFormat[f] ?? 0) + n;
        linearBytes += bytesOf(weightBuffers(lw));
      }
      const weightBytes = bytesOf(weightBufs);
      const kvCacheBytes = bytesOf(kvBufs);
      const all = bytesOf(new Set(owned));
      return { weightBytes, weightBytesByFormat: byFormat, linearBytes, kvCacheBytes, activationBytes: all - weightBytes - kvCacheBytes };
    }

    return {
      backend: 'webgpu',
      config: c,
      counters,
      step,
      logitsAll,
      memory,
      dispose() {
        if (disposed) return;
        disposed = true;
        rec.dispose();
        for (const buf of owned) buf.destroy();
      },
    };
  } catch (e) {
    for (const buf of owned) buf.destroy();
    throw e;
  }
}

type MatmulUse = [w: GpuWeight, prologue: 'rmsnorm' | 'none' | 'swiglu', accumulate: boolean];

/**
 * Compiles every pipeline a step uses, so errors surface at load and steps never stall on a
 * compile: each linear as decode (M = 1, with its fused prologue) and as prefill (M > 1).
 */
async function warmPipelines(ctx: GpuContext, uses: MatmulUse[]): Promise<void> {
  const variants = new Map<string, [KernelName, Constants]>();
  for (const [w, prologue, acc] of uses) {
    for (const v of [...k.matmulPipelines(ctx, w, 1, prologue, acc), ...k.matmulPipelines(ctx, w, 2, 'none', acc)]) {
      variants.set(JSON.stringify(v), v);
    }
  }
  const p = ctx.pipelines;
  await Promise.all([
    ...[...variants.values()].map(([kernel, constants]) => p.prepare(kernel, constants)),
    p.prepare('embed_f32'),
    p.prepare('rope_f32'),
    p.prepare('attention_f32'),
    p.prepare('argmax_f32'),
    p.prepare('rmsnorm_f32'),
    p.prepare('silu_mul_f32'),
  ]);
}
