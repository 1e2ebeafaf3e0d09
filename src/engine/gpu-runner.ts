// The WebGPU backend of ModelRunner: weights uploaded once, the KV cache on the GPU, and one
// command buffer + one submit per step() with all layers' dispatches in it.
//
// Dispatches per decode token (M = 1): 6 per layer + 3 = 6·nLayers + 3 (33 for stories260K):
//   embed
//   per layer: [RMSNorm → wq;wk;wv]  rope+KV write  attention  [wo + residual]
//              [RMSNorm → w1;w3]  [SwiGLU → w2 + residual]          (brackets: one GEMV each)
//   [final RMSNorm → classifier]  argmax (want 'argmax'; 'logits' copies the logits instead)
// Prefill (M > 1) runs the same per chunk of up to `prefillChunk` tokens with the GEMM and
// separate RMSNorm / SiLU·mul kernels (9 per layer + 1), and the classifier only for the
// last position. logitsAll (evaluation) runs the prefill path from position 0 and the final
// RMSNorm + classifier on every row, in one submit.
import { NibbleError } from '../core/errors.ts';
import { kvDim, type LlamaModel } from '../core/model.ts';
import { createReadback, createStorage, mapRead, uploadStorage } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/device.ts';
import * as k from '../gpu/kernels.ts';
import { Recorder } from '../gpu/recorder.ts';
import { uploadF32, uploadLinear, type GpuWeight } from '../gpu/weights.ts';
import type { ModelRunner, RunnerCounters, StepResult } from './runner.ts';

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
  const ownW = (g: GpuWeight): GpuWeight => (own(g.data), g);
  try {
    // Weights, once. The matmul wrapper picks each kernel by the weight's format tag.
    const tokEmb = own(uploadF32(ctx, w.tokEmb, 'tok_emb'));
    const layers: GpuLayer[] = w.layers.map((l, i) => ({
      rmsAtt: own(uploadF32(ctx, l.rmsAtt, `l${i}.rms_att`)),
      wqkv: ownW(uploadLinear(ctx, [l.wq, l.wk, l.wv], `l${i}.wqkv`)),
      wo: ownW(uploadLinear(ctx, [l.wo], `l${i}.wo`)),
      rmsFfn: own(uploadF32(ctx, l.rmsFfn, `l${i}.rms_ffn`)),
      w13: ownW(uploadLinear(ctx, [l.w1, l.w3], `l${i}.w13`)),
      w2: ownW(uploadLinear(ctx, [l.w2], `l${i}.w2`)),
      kcache: own(createStorage(ctx, c.seqLen * kvd * 4, `l${i}.kcache`)),
      vcache: own(createStorage(ctx, c.seqLen * kvd * 4, `l${i}.vcache`)),
    }));
    const rmsFinal = own(uploadF32(ctx, w.rmsFinal, 'rms_final'));
    const wcls: GpuWeight =
      w.wcls === w.tokEmb && w.tokEmb.format === 'f32'
        ? { format: 'f32', n: c.vocabSize, k: c.dim, data: tokEmb } // shared classifier: one buffer
        : ownW(uploadLinear(ctx, [w.wcls], 'wcls'));
    const ropeTable = own(uploadStorage(ctx, k.ropeTable(c.seqLen, hs, c.ropeTheta), 'rope_cs'));

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
    const readToken = own(createReadback(ctx, 4, 'argmax-read'));
    const readLogits = own(createReadback(ctx, c.vocabSize * 4, 'logits-read'));

    await warmPipelines(ctx, [
      [c.dim, 'rmsnorm', false], // wq;wk;wv, w1;w3, classifier
      [qDim, 'none', true], // wo + residual
      [c.hiddenDim, 'swiglu', true], // w2 + residual
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
          k.matmul(rec, { x: b.x, w: L.wqkv, out: b.qkv, M, prologue: { kind: 'rmsnorm', weight: L.rmsAtt, eps } });
        } else {
          k.rmsnorm(rec, { x: b.x, weight: L.rmsAtt, out: b.xn, M, dim: c.dim, eps });
          k.matmul(rec, { x: b.xn, w: L.wqkv, out: b.qkv, M });
        }
        k.rope(rec, {
          qkv: b.qkv, kcache: L.kcache, vcache: L.vcache, table: ropeTable, M, pos0: p0,
          nHeads: c.nHeads, nKv: c.nKvHeads, hs, stride: qkvCols, kOff: qDim, vOff: qDim + kvd, style: c.ropeStyle,
        });
        k.attention(rec, {
          q: b.qkv, qStride: qkvCols, kcache: L.kcache, vcache: L.vcache, out: b.att, M, pos0: p0,
          nHeads: c.nHeads, nKv: c.nKvHeads, hs,
        });
        k.matmul(rec, { x: b.att, w: L.wo, out: b.x, M, accumulate: true });
        // feed-forward block: x += w2 · (silu(w1 · xn) ⊙ w3 · xn), xn = rmsnorm(x)
        if (M === 1) {
          k.matmul(rec, { x: b.x, w: L.w13, out: b.gu, M, prologue: { kind: 'rmsnorm', weight: L.rmsFfn, eps } });
          k.matmul(rec, { x: b.gu, w: L.w2, out: b.x, M, prologue: { kind: 'swiglu' }, accumulate: true });
        } else {
          k.rmsnorm(rec, { x: b.x, weight: L.rmsFfn, out: b.xn, M, dim: c.dim, eps });
          k.matmul(rec, { x: b.xn, w: L.w13, out: b.gu, M });
          k.siluMul(rec, { gu: b.gu, out: b.h, M, H: c.hiddenDim });
          k.matmul(rec, { x: b.h, w: L.w2, out: b.x, M, accumulate: true });
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
        k.matmul(rec, { ...lastRow, prologue: { kind: 'rmsnorm', weight: rmsFinal, eps } });
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
            k.matmul(rec, { x: b.xn, w: wcls, out: chunkLogits, M });
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

    return {
      backend: 'webgpu',
      config: c,
      counters,
      step,
      logitsAll,
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

type GemvUse = [K: number, prologue: 'rmsnorm' | 'none' | 'swiglu', accumulate: boolean];

/** Compiles every pipeline a step uses, so errors surface at load and steps never stall on a compile. */
async function warmPipelines(ctx: GpuContext, gemvUses: GemvUse[]): Promise<void> {
  const p = ctx.pipelines;
  await Promise.all([
    ...gemvUses.map(([K, prologue, acc]) => p.prepare(ctx.kernels.gemv, k.gemvConstants(K, prologue, acc))),
    p.prepare('embed_f32'),
    p.prepare('rope_f32'),
    p.prepare('attention_f32'),
    p.prepare('argmax_f32'),
    p.prepare('rmsnorm_f32'),
    p.prepare('matmul_gemm_f32', k.gemmConstants(false)),
    p.prepare('matmul_gemm_f32', k.gemmConstants(true)),
    p.prepare('silu_mul_f32'),
  ]);
}
