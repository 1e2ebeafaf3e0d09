// What the WebGPU runner (engine/gpu-runner.ts) can run today, as one pure check: the features of
// core/formats/hf/runnable.ts it declares. Call at the top of createGpuRunner, before planning:
//   const why = unsupportedOnGpu(model);
//   if (why) throw new NibbleError('unsupported', `the WebGPU runner does not support ${why}; use the CPU backend`);
// Flip a flag here when the GPU side gains the feature (RoPE from a frequency table for
// ropeScaling, a per-head RMSNorm before RoPE for qkNorm, headSize · nHeads ≠ dim tested for headDim).
import { missingFeature, type ModelFeatures } from '../formats/hf/runnable.ts';
import type { LlamaModel } from './model.ts';

export const GPU_FEATURES: Readonly<ModelFeatures> = {
  attentionBias: true, // fused into rope_f32 (BIAS override)
  qkNorm: false,
  ropeScaling: false,
  headDim: false,
};

/** The feature `model` needs that the WebGPU runner lacks, described for an error; undefined if it runs. */
export const unsupportedOnGpu = (model: LlamaModel): string | undefined => missingFeature(model, GPU_FEATURES);
