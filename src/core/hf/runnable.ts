// What a backend or writer must support to run or store a model exactly. The HF loader can
// produce models with features the llama2.c path never had (today: Qwen2's q/k/v attention
// biases in weights.attnBias, applied by the CPU forward only); a consumer that lacks one calls assertRunnable so it
// refuses the model with a clear reason instead of silently computing something else.
import { NibbleError } from '../errors.ts';
import type { LlamaModel } from '../model.ts';

export interface ModelFeatures {
  attentionBias: boolean; // some layer has bq / bk / bv
}

export function modelFeatures(model: LlamaModel): ModelFeatures {
  return { attentionBias: (model.weights.attnBias?.length ?? 0) > 0 };
}

/**
 * Throws 'unsupported' when `model` needs a feature `consumer` (e.g. 'the WebGPU runner',
 * 'the .nibble writer') does not declare in `supports`.
 */
export function assertRunnable(model: LlamaModel, consumer: string, supports: Partial<ModelFeatures> = {}): void {
  const need = modelFeatures(model);
  if (need.attentionBias && !supports.attentionBias) {
    throw new NibbleError('unsupported', `${consumer} does not support attention biases (a Qwen2 model); use the CPU backend`);
  }
}
