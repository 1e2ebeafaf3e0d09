// The weights of one LlamaModel on the GPU, for the WebGPU runner: uploaded once, in the layout
// src/core/plan/model-tensors.ts describes (describeModelTensors: the memory plan knows every buffer's
// bytes before a byte is uploaded; labels here = names there), split by rows across bindings
// where a weight is larger than `cap` (src/gpu/weights.ts), and counted by format for
// runner.memory(). Also compiles every pipeline the runner's steps will dispatch.
import { NibbleError } from '../core/errors.ts';
import { sharesEmbeddingBuffer } from '../core/plan/model-tensors.ts';
import { kvDim, type AttentionBias, type LlamaModel, type QkNorm } from '../core/model/model.ts';
import type { Tensor } from '../core/tensor.ts';
import type { GpuContext } from './device.ts';
import * as k from './kernels.ts';
import type { Constants, KernelName } from './kernel-table.ts';
import { uploadF32, uploadLinear, uploadTable, weightBuffers, type GpuWeight } from './weights.ts';

export interface GpuLayerWeights {
  rmsAtt: GPUBuffer; // (dim)
  wqkv: GpuWeight; // (qDim + 2·kvDim, dim): wq; wk; wv stacked
  bias?: GPUBuffer; // (qDim + 2·kvDim): bq; bk; bv as one qkv row (Qwen2), added by the rope kernel
  qkNorm?: GPUBuffer; // (2·hs): q; k per-head RMSNorm weights (Qwen3), applied by the rope kernel
  wo: GpuWeight; // (dim, qDim)
  rmsFfn: GPUBuffer; // (dim)
  w13: GpuWeight; // (2·hidden, dim): w1 (gate); w3 (up) stacked
  w2: GpuWeight; // (dim, hidden)
}

export interface GpuWeightBytes {
  weightBytes: number; // every weight buffer once
  weightBytesByFormat: Record<string, number>; // embeddings, norms and biases count as 'f32'
  linearBytes: number; // block linears and the classifier (unless it is the embedding's buffer)
}

export interface GpuModelWeights {
  tokEmb: GpuWeight; // (vocab, dim) f32: one buffer, or a stack of f32 row parts
  layers: GpuLayerWeights[];
  rmsFinal: GPUBuffer; // (dim)
  wcls: GpuWeight; // (vocab, dim); the same object as tokEmb when the classifier shares it
  linears: GpuWeight[]; // every matmul weight: the layers' four, then wcls
  bytes(): GpuWeightBytes;
  destroy(): void;
}

/** bq; bk; bv of one layer as one (qDim + 2·kvDim) row, lengths checked. */
function biasRow(model: LlamaModel, b: AttentionBias, l: number): Float32Array {
  const c = model.config;
  const qDim = c.nHeads * c.headSize;
  const kvd = kvDim(c);
  const got = [b.bq.data.length, b.bk.data.length, b.bv.data.length];
  if (got[0] !== qDim || got[1] !== kvd || got[2] !== kvd) {
    throw new NibbleError(
      'bad-dims',
      `layer ${l}: attention biases have ${got.join(', ')} values, the model needs ${qDim}, ${kvd}, ${kvd}`,
    );
  }
  const row = new Float32Array(qDim + 2 * kvd);
  row.set(b.bq.data, 0);
  row.set(b.bk.data, qDim);
  row.set(b.bv.data, qDim + kvd);
  return row;
}

/** q; k norm weights of one layer as one (2·hs) vector, lengths checked. */
function qkNormRow(model: LlamaModel, n: QkNorm, l: number): Float32Array {
  const hs = model.config.headSize;
  if (n.q.data.length !== hs || n.k.data.length !== hs) {
    throw new NibbleError(
      'bad-dims',
      `layer ${l}: q/k norm weights have ${n.q.data.length}, ${n.k.data.length} values, the model's head size is ${hs}`,
    );
  }
  const row = new Float32Array(2 * hs);
  row.set(n.q.data, 0);
  row.set(n.k.data, hs);
  return row;
}

/** Block i's weights in the runner's layout; `vec` / `lin` upload a vector / a stack of linears. */
export function uploadLayerWeights(
  model: LlamaModel,
  i: number,
  vec: (t: Tensor | Float32Array, label: string) => GPUBuffer,
  lin: (parts: Tensor[], label: string) => GpuWeight,
): GpuLayerWeights {
  const l = model.weights.layers[i];
  const bias = model.weights.attnBias?.[i];
  const qkNorm = model.weights.qkNorm?.[i];
  return {
    rmsAtt: vec(l.rmsAtt, `l${i}.rms_att`),
    wqkv: lin([l.wq, l.wk, l.wv], `l${i}.wqkv`),
    ...(bias ? { bias: vec(biasRow(model, bias, i), `l${i}.attn_bias`) } : {}),
    ...(qkNorm ? { qkNorm: vec(qkNormRow(model, qkNorm, i), `l${i}.qk_norm`) } : {}),
    wo: lin([l.wo], `l${i}.wo`),
    rmsFfn: vec(l.rmsFfn, `l${i}.rms_ffn`),
    w13: lin([l.w1, l.w3], `l${i}.w13`),
    w2: lin([l.w2], `l${i}.w2`),
  };
}

/** Uploads every weight of `model`; a weight larger than `cap` bytes is split by rows. */
export function uploadModelWeights(ctx: GpuContext, model: LlamaModel, cap: number): GpuModelWeights {
  const w = model.weights;
  const formatOf = new Map<GPUBuffer, string>(); // every weight buffer once, by format tag
  const linearBufs = new Set<GPUBuffer>();
  const track = (g: GpuWeight, linear: boolean): GpuWeight => {
    for (const leaf of g.format === 'stack' ? g.parts : [g]) {
      for (const b of weightBuffers(leaf)) {
        formatOf.set(b, leaf.format);
        if (linear) linearBufs.add(b);
      }
    }
    return g;
  };
  const vec = (t: Tensor | Float32Array, label: string): GPUBuffer => {
    const b = uploadF32(ctx, t, label);
    formatOf.set(b, 'f32');
    return b;
  };
  const lin = (parts: Tensor[], label: string): GpuWeight => track(uploadLinear(ctx, parts, label, cap), true);
  try {
    const tokEmb = track(uploadTable(ctx, w.tokEmb, 'tok_emb', cap), false);
    const layers = w.layers.map((_, i) => uploadLayerWeights(model, i, vec, lin));
    const rmsFinal = vec(w.rmsFinal, 'rms_final');
    const wcls = sharesEmbeddingBuffer(w) ? tokEmb : lin([w.wcls], 'wcls');
    return {
      tokEmb,
      layers,
      rmsFinal,
      wcls,
      linears: [...layers.flatMap((L) => [L.wqkv, L.wo, L.w13, L.w2]), wcls],
      bytes() {
        const byFormat: Record<string, number> = {};
        let weightBytes = 0;
        let linearBytes = 0;
        for (const [b, f] of formatOf) {
          byFormat[f] = (byFormat[f] ?? 0) + b.size;
          weightBytes += b.size;
          if (linearBufs.has(b)) linearBytes += b.size;
        }
        return { weightBytes, weightBytesByFormat: byFormat, linearBytes };
      },
      destroy: () => formatOf.forEach((_, b) => b.destroy()),
    };
  } catch (e) {
    formatOf.forEach((_, b) => b.destroy());
    throw e;
  }
}

type MatmulUse = [w: GpuWeight, prologue: 'rmsnorm' | 'none' | 'swiglu', accumulate: boolean];

/**
 * Compiles every pipeline a step uses, so errors surface at load and steps never stall on a
 * compile: each linear as decode (M = 1, with its fused prologue) and as prefill (M > 1), and
 * the rope variant (head size hs; with or without the attention biases and the q/k norms).
 */
export async function warmModelPipelines(ctx: GpuContext, weights: GpuModelWeights, hs: number): Promise<void> {
  const uses: MatmulUse[] = [
    ...weights.layers.flatMap((L): MatmulUse[] => [
      [L.wqkv, 'rmsnorm', false],
      [L.wo, 'none', true],
      [L.w13, 'rmsnorm', false],
      [L.w2, 'swiglu', true],
    ]),
    [weights.wcls, 'rmsnorm', false],
  ];
  const variants = new Map<string, [KernelName, Constants]>();
  const add = (v: [KernelName, Constants]) => variants.set(JSON.stringify(v), v);
  for (const [w, prologue, acc] of uses) {
    [...k.matmulPipelines(ctx, w, 1, prologue, acc), ...k.matmulPipelines(ctx, w, 2, 'none', acc)].forEach(add);
  }
  weights.layers.forEach((L) => add(['rope_f32', k.ropeConstants(hs, !!L.bias, !!L.qkNorm)]));
  (weights.tokEmb.format === 'stack' ? weights.tokEmb.parts : [weights.tokEmb]).forEach((t) => add(k.embedPipeline(t)));
  (['attention_f32', 'argmax_f32', 'rmsnorm_f32', 'silu_mul_f32'] as const).forEach((n) => add([n, {}]));
  await Promise.all([...variants.values()].map(([kernel, constants]) => ctx.pipelines.prepare(kernel, constants)));
}
