// What a backend or writer must support to run or store a model exactly. The HF loader can
// produce models with features the llama2.c path never had. Every consumer calls assertRunnable,
// declaring what it supports, so one that lacks a feature refuses the model with a clear reason
// instead of silently computing something else. Features and who handles them today:
//   attentionBias  Qwen2 q/k/v biases (weights.attnBias): CPU forward, WebGPU runner (fused into
//                  rope_f32), .nibble file; GGUF and GPTQ export refuse
//   qkNorm         Qwen3 per-head q/k RMSNorm (weights.qkNorm): CPU forward, WebGPU runner
//   ropeScaling    'linear' / 'llama3' frequencies (config.ropeScaling): CPU forward, WebGPU runner
//   headDim        headSize · nHeads ≠ dim (Qwen3-0.6B): CPU forward, WebGPU runner
//   (the WebGPU runner's list: model/gpu-support.ts GPU_FEATURES)
// The CPU forward (core/model/forward.ts) runs every feature and does not call this.
import { NibbleError } from '../../errors.ts';
import type { LlamaModel } from '../../model/model.ts';

export interface ModelFeatures {
  attentionBias: boolean; // some layer has bq / bk / bv
  qkNorm: boolean; // some layer has q/k norm weights (Qwen3)
  ropeScaling: boolean; // RoPE frequencies are not plain theta^(-2i/hs)
  headDim: boolean; // per-head width is not dim / nHeads
}

export function modelFeatures(model: LlamaModel): ModelFeatures {
  const c = model.config;
  return {
    attentionBias: (model.weights.attnBias?.length ?? 0) > 0,
    qkNorm: (model.weights.qkNorm?.length ?? 0) > 0,
    ropeScaling: c.ropeScaling !== undefined,
    headDim: c.headSize * c.nHeads !== c.dim,
  };
}

/** What each feature is, for refusals: the model family that brings it and the fix. */
const FEATURE_NAMES: Readonly<Record<keyof ModelFeatures, (m: LlamaModel) => string>> = {
  attentionBias: () => 'attention biases (a Qwen2 model)',
  qkNorm: () => 'per-head q/k RMSNorm (a Qwen3 model)',
  ropeScaling: (m) => `'${m.config.ropeScaling?.type}' RoPE scaling (rope_scaling in config.json)`,
  headDim: (m) =>
    `a head_dim of ${m.config.headSize} other than hidden / heads = ${m.config.dim / m.config.nHeads} (a Qwen3-style model)`,
};

/** The first feature `model` needs that `supports` does not declare, described; undefined if none. */
export function missingFeature(model: LlamaModel, supports: Partial<ModelFeatures> = {}): string | undefined {
  const need = modelFeatures(model);
  const key = (Object.keys(need) as (keyof ModelFeatures)[]).find((k) => need[k] && !supports[k]);
  return key && FEATURE_NAMES[key](model);
}

/**
 * Throws 'unsupported' when `model` needs a feature `consumer` (e.g. 'the WebGPU runner',
 * 'the .nibble writer') does not declare in `supports`.
 */
export function assertRunnable(model: LlamaModel, consumer: string, supports: Partial<ModelFeatures> = {}): void {
  const missing = missingFeature(model, supports);
  if (missing) throw new NibbleError('unsupported', `${consumer} does not support ${missing}; use the CPU backend`);
}
