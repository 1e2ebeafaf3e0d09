// Values that both halves of the engine protocol carry (protocol.ts: chat and loads;
// lab-protocol.ts: A/B generation, job progress): sampling settings, streamed tokens, a
// generation's summary and a load's progress. protocol.ts re-exports them.
import type { GenerateResult } from '../../engine/generate.ts';
import type { Backend } from '../../engine/runner.ts';

/** Bytes read so far while loading or inspecting a model (job-progress replies of a load/inspect). */
export interface LoadProgress {
  kind: 'load';
  phase: 'headers' | 'weights' | 'tokenizer' | 'gpu';
  file: string; // the file being read ('' for the gpu phase)
  bytesDone: number; // over all files of the source
  bytesTotal: number; // null-free: 0 when unknown
  etaMs: number | null; // null until a rate is known
}

export interface SamplingSettings {
  temperature: number; // 0 = greedy
  topP: number; // (0, 1]; 1 = plain sampling
  maxTokens: number; // tokens to generate, >= 1
  seed: number; // uint32
}

/** One streamed token (mirrors engine TokenEvent). */
export interface TokenProgress {
  token: number;
  text: string; // decoded piece, UTF-8 safe
  index: number; // 0-based among generated tokens
  tokensPerSecond: number;
}

/** generate()'s result, plus which backend and variant produced it. */
export interface GenerationSummary extends GenerateResult {
  backend: Backend;
  /** Which variant generated it ('base' = the loaded model); the host always sets it. */
  variant?: string;
  /** GPU memory its runner holds (weights + KV cache + activations); null on the CPU. */
  gpuMemory?: GpuMemory | null;
}

/** runner.memory() as plain numbers, bytes. */
export interface GpuMemory {
  weightBytes: number;
  kvCacheBytes: number;
  activationBytes: number;
  totalBytes: number;
}
