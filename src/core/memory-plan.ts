// What a model will need before a byte of its weights is read: GPU bytes per weight format, the KV
// cache for the chosen context, activations, and the verdict against this device's limits.
// Pure arithmetic over tensor descriptions (from file headers: core/model-describe callers), so
// the page can show it and refuse with a reason before loading, and the WebGPU runner can check
// the same numbers before allocating.
//
// Rules (the WebGPU runner follows them; test/gpu/memory-plan.test.ts ties the two together):
// - one binding holds at most cap = min(maxBufferSize, maxStorageBufferBindingSize) bytes;
// - a weight larger than cap is split by rows into parts of ⌊cap / rowBytes⌋ rows (the last part
//   may be shorter); a single row larger than cap cannot be split → 'too-large';
// - each layer's K and V cache is one buffer of contextLength·kvDim·4 bytes; larger than cap →
//   'too-large' with the longest context that fits;
// - total = weights + KV cache + activations; above the memory hint (when known) → 'too-large'.
import type { LlamaConfig } from './model.ts';
import { kvDim } from './model.ts';

/** One weight as it will sit on the GPU. `bytes` = its GPU size in that format (packed + scales). */
export interface TensorPlanEntry {
  name: string; // e.g. 'tok_emb', 'l3.wq', 'wcls'
  rows: number; // leading dimension (out features; vocab for the embedding; 1 for a vector)
  bytes: number;
  format: string; // format tag on the GPU: 'f32', 'q8', 'q4', 'nf4', …
}

export interface DeviceBudget {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** Bytes the device can plausibly hold (an adapter/OS hint); null when nothing says. */
  memoryHintBytes: number | null;
  memoryHintSource?: string; // where the hint came from, for the reason text
}

export interface SplitPlan {
  name: string;
  bytes: number;
  parts: number;
  rowsPerPart: number;
}

export type PlanVerdict = 'fits' | 'fits-split' | 'too-large' | 'no-gpu';

export interface MemoryPlan {
  contextLength: number;
  weightBytes: number;
  weightBytesByFormat: Record<string, number>;
  kvCacheBytes: number;
  activationBytes: number;
  totalBytes: number;
  /** Bytes of f32 weights the CPU runner holds (the model always loads on the CPU first). */
  cpuBytes: number;
  largest: { name: string; bytes: number } | null;
  bindingCap: number | null; // min(maxBufferSize, maxStorageBufferBindingSize); null without a GPU
  splits: SplitPlan[];
  verdict: PlanVerdict;
  /** Why it is 'too-large' (or notes for the others), one sentence each. */
  reasons: string[];
  /** Longest context whose per-layer KV buffer fits one binding (null without a GPU). */
  maxContextForBinding: number | null;
}

/** Rows of activations the runner allocates for prefill (src/engine/gpu-runner.ts default chunk). */
export const PREFILL_CHUNK = 64;

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * Activation, scratch and readback bytes of the WebGPU runner for `config` with a context of
 * `ctx` positions (buffers: tokens, x, xn, qkv, att, gate|up, h, logits ×2, RoPE table).
 */
export function activationBytes(config: LlamaConfig, ctx: number, chunk = Math.min(ctx, PREFILL_CHUNK)): number {
  const qDim = config.nHeads * config.headSize;
  const cols = 2 * config.dim + (qDim + 2 * kvDim(config)) + qDim + 2 * config.hiddenDim + config.hiddenDim;
  return 4 * (ctx + chunk * cols + 2 * config.vocabSize + ctx * config.headSize);
}

export const kvCacheBytes = (config: LlamaConfig, ctx: number): number => 2 * config.nLayers * ctx * kvDim(config) * 4;

export function planMemory(config: LlamaConfig, tensors: readonly TensorPlanEntry[], contextLength: number, budget: DeviceBudget | null): MemoryPlan {
  const ctx = contextLength;
  const byFormat: Record<string, number> = {};
  let weightBytes = 0;
  let cpuBytes = 0;
  let largest: MemoryPlan['largest'] = null;
  for (const t of tensors) {
    weightBytes += t.bytes;
    byFormat[t.format] = (byFormat[t.format] ?? 0) + t.bytes;
    cpuBytes += t.format === 'f32' ? t.bytes : 0;
    if (!largest || t.bytes > largest.bytes) largest = { name: t.name, bytes: t.bytes };
  }
  const kv = kvCacheBytes(config, ctx);
  const act = activationBytes(config, ctx);
  const total = weightBytes + kv + act;
  const base = { contextLength: ctx, weightBytes, weightBytesByFormat: byFormat, kvCacheBytes: kv, activationBytes: act, totalBytes: total, cpuBytes, largest };
  if (!budget) return { ...base, bindingCap: null, splits: [], verdict: 'no-gpu', reasons: ['no WebGPU device: the model runs on the CPU'], maxContextForBinding: null };

  const cap = Math.min(budget.maxBufferSize, budget.maxStorageBufferBindingSize);
  const reasons: string[] = [];
  const splits: SplitPlan[] = [];
  for (const t of tensors) {
    if (t.bytes <= cap) continue;
    const rowBytes = t.bytes / Math.max(1, t.rows);
    const rowsPerPart = Math.floor(cap / rowBytes);
    if (rowsPerPart < 1) {
      reasons.push(`${t.name}: one row is ${MiB(rowBytes)}, more than one binding holds (${MiB(cap)})`);
      continue;
    }
    splits.push({ name: t.name, bytes: t.bytes, parts: Math.ceil(t.rows / rowsPerPart), rowsPerPart });
  }
  const kvLayer = ctx * kvDim(config) * 4;
  const maxContextForBinding = Math.floor(cap / (kvDim(config) * 4));
  if (kvLayer > cap) reasons.push(`the KV cache of one layer at ${ctx} positions is ${MiB(kvLayer)}, more than one binding holds (${MiB(cap)}): choose a context of at most ${maxContextForBinding}`);
  if (budget.memoryHintBytes !== null && total > budget.memoryHintBytes) {
    reasons.push(`it needs ${MiB(total)} of GPU memory; ${budget.memoryHintSource ?? 'this device'} suggests at most ${MiB(budget.memoryHintBytes)}: quantize it or shorten the context`);
  }
  const verdict: PlanVerdict = reasons.length ? 'too-large' : splits.length ? 'fits-split' : 'fits';
  if (verdict === 'fits-split') reasons.push(`${splits.map((s) => `${s.name} (${MiB(s.bytes)})`).join(', ')} ${splits.length === 1 ? 'is' : 'are'} larger than one binding (${MiB(cap)}) and will be split by rows`);
  return { ...base, bindingCap: cap, splits, verdict, reasons, maxContextForBinding };
}
