// What a backend or writer must support to run or store a model exactly. The HF loader can
// produce models with features the llama2.c path never had (today: Qwen2's q/k/v attention
// biases in weights.attnBias). Every consumer calls assertRunnable, declaring what it supports,
// so one that lacks a feature refuses the model with a clear reason instead of silently
// computing something else. Who applies attention biases today:
//   the CPU forward (core/forward.ts)          yes (does not need to call this)
//   the WebGPU runner (engine/gpu-runner.ts)   yes: { attentionBias: true } (fused into rope_f32)
//   the .nibble file (core/nibble-file*.ts)    yes: stores layers.L.{bq,bk,bv} (does not call this)
//   GGUF and GPTQ export (core/gguf, export)   no: refuse with their own checks
import { NibbleError } from '../../errors.ts';
import type { LlamaModel } from '../../model/model.ts';

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
    throw new NibbleError(
      'unsupported',
      `${consumer} does not support attention biases (a Qwen2 model); use the CPU backend`,
    );
  }
}
