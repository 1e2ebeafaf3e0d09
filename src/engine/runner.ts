// The contract both backends implement. generate.ts drives either one; callers cannot tell
// the WebGPU runner (src/engine/gpu-runner.ts) from the CPU runner (src/engine/cpu-runner.ts).
import type { LlamaConfig } from '../core/model/model.ts';

export type Backend = 'webgpu' | 'cpu';

/** What one forward step returns: the greedy token (GPU argmax, one u32 read back) or logits. */
export type StepResult = { kind: 'argmax'; token: number } | { kind: 'logits'; logits: Float32Array };

export interface RunnerCounters {
  submits: number; // queue.submit calls since creation (0 on CPU)
  dispatches: number; // compute dispatches since creation (0 on CPU)
  forwards: number; // step() calls
}

/** GPU memory a runner holds, in bytes (buffer sizes as allocated). */
export interface RunnerMemory {
  weightBytes: number; // every weight buffer: linears (packed when quantized), embeddings, norms
  weightBytesByFormat: Record<string, number>; // by format tag; embeddings and norms count as 'f32'
  linearBytes: number; // the block linears and the classifier as uploaded
  kvCacheBytes: number;
  activationBytes: number; // activations, scratch, params and readback buffers
}

export interface ModelRunner {
  readonly backend: Backend;
  readonly config: LlamaConfig;
  readonly counters: RunnerCounters;
  /**
   * Runs `tokens` at positions pos .. pos + tokens.length - 1 in one pass (prefill when
   * length > 1), writing their keys/values into the KV cache, and returns the next-token
   * choice from the last position. Requires pos + tokens.length <= config.seqLen.
   */
  step(tokens: readonly number[], pos: number, want: 'argmax' | 'logits'): Promise<StepResult>;
  /**
   * Evaluation pass: runs `tokens` from position 0 and returns the logits of every position
   * (M, vocab), plus the residual stream after each block (nLayers × (M, dim)) when asked.
   */
  logitsAll(
    tokens: readonly number[],
    opts?: { residuals?: boolean },
  ): Promise<{ logits: Float32Array; residuals?: Float32Array[] }>;
  /** GPU memory held (WebGPU runner); absent on the CPU runner. */
  memory?(): RunnerMemory;
  /** Frees GPU buffers; the runner is unusable afterwards. */
  dispose(): void;
}
