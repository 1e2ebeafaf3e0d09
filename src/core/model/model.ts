// The one in-memory description of a Llama-family model, whatever file it came from.
import type { F32Tensor, Tensor } from '../tensor.ts';

export interface LlamaConfig {
  dim: number; // model width
  hiddenDim: number; // SwiGLU inner width
  nLayers: number;
  nHeads: number;
  nKvHeads: number; // grouped-query attention: nHeads % nKvHeads == 0
  vocabSize: number;
  seqLen: number; // max context (KV cache length)
  headSize: number; // per-head width: dim / nHeads, or HF head_dim (Qwen3: 128 with dim 1024, 16 heads)
  normEps: number; // RMSNorm epsilon (llama2.c: 1e-5)
  ropeTheta: number; // 10000 for llama2.c
  ropeStyle: 'interleaved' | 'half'; // llama2.c pairs (2i, 2i+1) vs HF rotate-half (i, i+hs/2)
  sharedClassifier: boolean; // wcls is tokEmb
  // RoPE frequency scaling (HF rope_scaling); absent = plain theta^(-2i/hs). Every runner takes
  // its frequencies from ropeInvFreq(config) (model/rope.ts), never from theta alone.
  ropeScaling?: RopeScaling;
}

/** HF rope_scaling kinds we implement (transformers modeling_rope_utils.py). */
export type RopeScaling =
  | { type: 'linear'; factor: number } // inv_freq / factor (positions / factor)
  | {
      type: 'llama3';
      factor: number; // long wavelengths: inv_freq / factor
      lowFreqFactor: number; // wavelen > L / lowFreqFactor → scaled
      highFreqFactor: number; // wavelen < L / highFreqFactor → unchanged; between: smooth blend
      originalMaxPositions: number; // L = original_max_position_embeddings
    };

export interface LayerWeights {
  rmsAtt: Tensor; // (dim)
  wq: Tensor; // (nHeads*hs, dim)   all linears are [out, in], row-major
  wk: Tensor; // (nKv*hs, dim)
  wv: Tensor; // (nKv*hs, dim)
  wo: Tensor; // (dim, nHeads*hs)
  rmsFfn: Tensor; // (dim)
  w1: Tensor; // (hidden, dim)  gate
  w2: Tensor; // (dim, hidden)  down
  w3: Tensor; // (hidden, dim)  up
}

/** Attention biases of one layer (Qwen2): q = wq·x + bq, k = wk·x + bk, v = wv·x + bv. */
export interface AttentionBias {
  bq: F32Tensor; // (nHeads*hs)
  bk: F32Tensor; // (nKv*hs)
  bv: F32Tensor; // (nKv*hs)
}

export interface LlamaWeights {
  tokEmb: Tensor; // (vocab, dim)
  layers: LayerWeights[]; // nLayers
  rmsFinal: Tensor; // (dim)
  wcls: Tensor; // (vocab, dim); the same object as tokEmb when shared
  // Optional, per layer (nLayers). Both runners apply them (the WebGPU one inside the RoPE
  // kernel); a writer that cannot store them must refuse such a model (assertRunnable in
  // core/hf/runnable.ts).
  attnBias?: AttentionBias[];
  // Optional, per layer (nLayers): Qwen3's per-head RMSNorm on q and k before RoPE.
  qkNorm?: QkNorm[];
}

/** Qwen3: q (M, nHeads, hs) and k (M, nKv, hs) are RMS-normed per head over hs with these weights. */
export interface QkNorm {
  q: F32Tensor; // (hs)
  k: F32Tensor; // (hs)
}

export interface LlamaModel {
  config: LlamaConfig;
  weights: LlamaWeights;
}

/** Names of the linear maps inside one block, in a fixed order used everywhere (UI pickers, reports). */
export const LINEAR_NAMES = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'] as const;
export type LinearName = (typeof LINEAR_NAMES)[number];

export const kvDim = (c: LlamaConfig): number => c.nKvHeads * c.headSize;
