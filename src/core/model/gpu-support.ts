// What the WebGPU runner (engine/gpu-runner.ts) can run, as one pure check: the features of
// core/formats/hf/runnable.ts it declares. createGpuRunner calls assertRunnable with these;
// unsupportedOnGpu says the same without throwing (e.g. to pick a backend). Each flag is true
// only where test/gpu checks the runner against the CPU runner with the feature present:
//   attentionBias  fused into rope_f32 (BIAS override)                  runner-bias.test.ts
//   qkNorm         per-head RMSNorm inside rope_f32 (QK_NORM override)  rope-qknorm, runner-families
//   ropeScaling    rope_f32's (cos, sin) table from ropeInvFreq(config)  rope-qknorm, runner-families
//   headDim        q / attention / wo widths nHeads · headSize ≠ dim    runner-families.test.ts
import { missingFeature, type ModelFeatures } from '../formats/hf/runnable.ts';
import type { LlamaModel } from './model.ts';

export const GPU_FEATURES: Readonly<ModelFeatures> = {
  attentionBias: true,
  qkNorm: true,
  ropeScaling: true,
  headDim: true,
};

/** The feature `model` needs that the WebGPU runner lacks, described for an error; undefined if it runs. */
export const unsupportedOnGpu = (model: LlamaModel): string | undefined => missingFeature(model, GPU_FEATURES);
