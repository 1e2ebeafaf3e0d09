// The WebGPU backend of ModelRunner: weights uploaded once, the KV cache on the GPU, and one
// command buffer + one submit per step() with all layers' dispatches in it.
//
// Dispatches per decode token (M = 1): 6 per layer + 3 = 6·nLayers + 3 (33 for stories260K),
// for f32 and for every packed format alike (q8/q4/q3/q2, nf4/fp4, llm.int8), with or without
// Qwen2's attention biases and Qwen3's per-head q/k RMSNorm (both inside the rope kernel):
//   embed
//   per layer: [RMSNorm → wq;wk;wv]  [+bias, q/k norm] rope+KV write  attention  [wo + residual]
//              [RMSNorm → w1;w3]  [SwiGLU → w2 + residual]          (brackets: one GEMV each)
//   [final RMSNorm → classifier]  argmax (want 'argmax'; 'logits' copies the logits instead)
// Quantized linears stay packed on the GPU; their GEMVs decode in registers with the same
// fusions. A stacked linear whose parts could not be merged (src/gpu/weights.ts: different
// formats or groups) costs one more dispatch per extra part, and so does a weight split by rows
// across bindings (larger than one storage binding; src/core/plan/memory-plan.ts rules): a classifier
// in P parts adds P − 1 per token. A split embedding adds none to decode (only the part holding
// the token is dispatched) and up to P − 1 per prefill chunk.
// Prefill (M > 1) runs the same per chunk of up to `prefillChunk` tokens with the GEMM and
// separate RMSNorm / SiLU·mul kernels (9 per layer + 1; LLM.int8 adds one activation-quantize
// dispatch per matmul), and the classifier only for the last position. logitsAll (evaluation)
// runs the prefill path from position 0 and the final RMSNorm + classifier on every row, in one
// submit.
// Before allocating anything the runner plans its memory (src/core/plan/memory-plan.ts over
// describeModelTensors) and refuses a model the plan calls 'too-large' with the plan's reasons.
import { assertRunnable } from '../core/formats/hf/runnable.ts';
import { GPU_FEATURES } from '../core/model/gpu-support.ts';
import { ropeInvFreq } from '../core/model/rope.ts';
import { NibbleError } from '../core/errors.ts';
import { planMemory } from '../core/plan/memory-plan.ts';
import { describeModelTensors } from '../core/plan/model-tensors.ts';
import { kvDim, type LlamaModel } from '../core/model/model.ts';
import { createReadback, createStorage, mapRead, uploadStorage } from '../gpu/buffers.ts';
import type { GpuContext } from '../gpu/device.ts';
import * as k from '../gpu/kernels.ts';
import { matmulScratchBytes } from '../gpu/matmul-quant.ts';
import { uploadModelWeights, warmModelPipelines, type GpuModelWeights } from '../gpu/model-weights.ts';
import { Recorder } from '../gpu/recorder.ts';
import { recordBlock, type BlockDims } from '../gpu/block-forward.ts';
import type { ModelRunner, RunnerCounters, RunnerMemory, StepResult } from './runner.ts';

export interface GpuRunnerOptions {
  /** Most tokens one prefill pass handles (activation buffers hold this many rows). Default min(seqLen, 64). */
  prefillChunk?: number;
  /**
   * Bytes one storage binding may hold, when less than the device allows (tests force splitting
   * with it): weights larger than this are split by rows, and a per-layer KV cache larger than
   * this is 'too-large'. Activation buffers are checked against the device's own limits.
   */
  maxBindingBytes?: number;
}

export async function createGpuRunner(
  ctx: GpuContext,
  model: LlamaModel,
  opts: GpuRunnerOptions = {},
): Promise<ModelRunner> {
  assertRunnable(model, 'the WebGPU runner', GPU_FEATURES);
  const c = model.config;
  const hs = c.headSize; // may differ from dim / nHeads (Qwen3-0.6B: 128 with dim 1024, 16 heads)
  const qDim = c.nHeads * hs; // width of q and of attention's output (wo's input)
  const kvd = kvDim(c);
  const qkvCols = qDim + 2 * kvd;
  if (hs % 2 || hs > k.MAX_HEAD_SIZE || c.nHeads % c.nKvHeads) {
    throw new NibbleError(
      'unsupported',
      `the GPU kernels need an even head size <= ${k.MAX_HEAD_SIZE} and nHeads % nKvHeads = 0 (head size ${hs}, ${c.nHeads}/${c.nKvHeads} heads)`,
    );
  }
  const chunk = Math.min(c.seqLen, opts.prefillChunk ?? 64);
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new NibbleError('bad-argument', `prefillChunk must be a positive integer, got ${opts.prefillChunk}`);
  const { maxBindingBytes: userCap } = opts;
  if (userCap !== undefined && !(Number.isInteger(userCap) && userCap >= 16))
    throw new NibbleError('bad-argument', `maxBindingBytes must be an integer >= 16, got ${userCap}`);
  const lim = (v: number) => Math.min(v, userCap ?? Infinity);

  // The plan first (nothing allocated yet): the same rules the page shows; the uploads below
  // split exactly the weights it lists in plan.splits.
  const plan = planMemory(
    c,
    describeModelTensors(model),
    c.seqLen,
    {
      maxBufferSize: lim(ctx.limits.maxBufferSize),
      maxStorageBufferBindingSize: lim(ctx.limits.maxStorageBufferBindingSize),
      memoryHintBytes: null,
    },
    chunk,
  );
  if (plan.verdict === 'too-large')
    throw new NibbleError('too-large', `This model does not fit this GPU: ${plan.reasons.join('; ')}.`);

  const owned: GPUBuffer[] = [];
  const own = (b: GPUBuffer): GPUBuffer => (owned.push(b), b);
  let weights: GpuModelWeights | null = null;
  try {
    // Weights, once. The matmul wrapper picks each kernel by the weight's format tag.
    weights = uploadModelWeights(ctx, model, plan.bindingCap!);
    const { tokEmb, layers, rmsFinal, wcls, linears } = weights;
    const kv = layers.map((_, i) => ({
      k: own(createStorage(ctx, c.seqLen * kvd * 4, `l${i}.kcache`)), // (seqLen, kvDim)
      v: own(createStorage(ctx, c.seqLen * kvd * 4, `l${i}.vcache`)),
    }));
    // (seqLen, hs/2) (cos, sin) from the model's inverse frequencies (RoPE scaling included).
    const ropeTable = own(uploadStorage(ctx, k.ropeTableOf(c.seqLen, ropeInvFreq(c)), 'rope_cs'));

    // Activations for up to `chunk` rows (src/core/plan/memory-plan.ts activationBytes lists them).
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

    await warmModelPipelines(ctx, weights, hs);

    const rec = new Recorder(ctx);
    const counters: RunnerCounters = { submits: 0, dispatches: 0, forwards: 0 };
    const eps = c.normEps;
    const dims: BlockDims = {
      dim: c.dim,
      hidden: c.hiddenDim,
      nHeads: c.nHeads,
      nKv: c.nKvHeads,
      hs,
      eps,
      ropeStyle: c.ropeStyle,
    };
    let busy = false;
    let disposed = false;

    /**
     * Records embedding + all blocks for the M = ids.length tokens `ids` (also at tokOff in
     * b.tokens) at positions p0..; `afterBlock(l)` may record copies of the residual stream b.x
     * after block l.
     */
    function recordBlocks(ids: readonly number[], p0: number, tokOff: number, afterBlock?: (l: number) => void): void {
      const M = ids.length;
      k.embedTable(rec, { tokens: b.tokens, tokOff, ids, table: tokEmb, out: b.x, M });
      for (const [l, L] of layers.entries()) {
        const { k: kcache, v: vcache } = kv[l];
        recordBlock(rec, dims, L, b, { M, pos0: p0, kcache, vcache, ropeTable, fused: M === 1, matmul });
        afterBlock?.(l);
      }
    }

    function validate(tokens: readonly number[], pos: number): void {
      if (disposed) throw new NibbleError('bad-argument', 'this GPU runner was disposed; load the model again');
      if (busy) throw new NibbleError('bad-argument', 'step() called while another step is running; await each step');
      if (tokens.length < 1) throw new NibbleError('bad-argument', 'step() needs at least one token');
      if (!Number.isInteger(pos) || pos < 0 || pos + tokens.length > c.seqLen) {
        throw new NibbleError(
          'bad-argument',
          `positions ${pos}..${pos + tokens.length - 1} are outside the context of ${c.seqLen}`,
        );
      }
      for (const t of tokens) {
        if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize)
          throw new NibbleError('bad-argument', `token ${t} is outside the vocabulary of ${c.vocabSize}`);
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
          recordBlocks(tokens.slice(off, off + M), pos + off, off);
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
            recordBlocks(
              tokens.slice(off, off + M),
              off,
              off,
              (l) => outResid && rec.copy(b.x, 0, outResid, (l * T + off) * rowBytes, M * rowBytes),
            );
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

    const kvBufs = new Set(kv.flatMap((L) => [L.k, L.v]));
    const bytesOf = (bufs: Iterable<GPUBuffer>): number => [...bufs].reduce((n, buf) => n + buf.size, 0);
    function memory(): RunnerMemory {
      const w = weights!.bytes();
      const kvCacheBytes = bytesOf(kvBufs);
      return { ...w, kvCacheBytes, activationBytes: bytesOf(new Set(owned)) - kvCacheBytes };
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
        weights?.destroy();
      },
    };
  } catch (e) {
    for (const buf of owned) buf.destroy();
    weights?.destroy();
    throw e;
  }
}
