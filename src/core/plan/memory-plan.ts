// What a model will need before a byte of its weights is read: GPU bytes per weight format, the KV
// cache for the chosen context, activations, and the verdict against this device's limits.
// Pure arithmetic over tensor descriptions (from file headers: core/model-describe callers), so
// the page can show it and refuse with a reason before loading, and the WebGPU runner can check
// the same numbers before allocating.
//
// Rules (the WebGPU runner follows them; test/gpu/memory-plan.test.ts ties the two together):
// - one binding holds at most cap = min(maxBufferSize, maxStorageBufferBindingSize) bytes;
// - a weight larger than cap is split by rows into parts of ⌊cap / rowBytes⌋ rows (the last part
//   may be shorter), rowBytes = bytes / rows; packed formats round that down to a multiple of
//   their rowAlign (whole words of their scale / zero / code streams: core/model-tensors.ts);
//   a single row (or rowAlign rows) larger than cap cannot be split → 'too-large';
// - each layer's K and V cache is one buffer of contextLength·kvDim·4 bytes; larger than cap →
//   'too-large' with the longest context that fits;
// - total = weights + KV cache + activations; above the memory hint (when known) → 'too-large'.
import type { LlamaConfig } from '../model/model.ts';
import { kvDim } from '../model/model.ts';

/** One weight as it will sit on the GPU. `bytes` = its GPU size in that format (packed + scales). */
export interface TensorPlanEntry {
  name: string; // e.g. 'tok_emb', 'l3.wq', 'wcls'
  rows: number; // leading dimension (out features; vocab for the embedding; 1 for a vector)
  bytes: number;
  format: string; // format tag on the GPU: 'f32', 'q8', 'q4', 'nf4', …
  cols?: number; // trailing dimension (in features); sizes the LLM.int8 prefill scratch
  rowAlign?: number; // rows per split part must be a multiple of this (packed formats); default 1
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
  /** The device memory hint the total was checked against (null when nothing says). */
  memoryHint: { bytes: number; source: string } | null;
}

/** Rows of activations the runner allocates for prefill (src/engine/gpu-runner.ts default chunk). */
export const PREFILL_CHUNK = 64;

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Bytes a GPU buffer of `bytes` occupies: padded to 4 and at least 16 (src/gpu/buffers.ts pads so). */
export const gpuBufferBytes = (bytes: number): number => Math.max(16, Math.ceil(bytes / 4) * 4);

/**
 * Activation, scratch and readback bytes of the WebGPU runner for `config` with a context of
 * `ctx` positions and prefill chunks of `chunk` rows: exactly the buffers src/engine/gpu-runner.ts
 * creates besides the weights and the KV cache, each padded as the GPU pads it: tokens (ctx) u32;
 * x, xn (chunk, dim); qkv (chunk, qDim + 2·kvDim); att (chunk, qDim); gate|up (chunk, 2·hidden);
 * h (chunk, hidden); logits (vocab) and its readback; the argmax u32 and its readback; the RoPE
 * table (ctx, headSize); the (chunk, vocab) logits of logitsAll (made on its first call, so this
 * is the peak); plus `scratchBytes` (LLM.int8 prefill, see int8ScratchBytes). The recorder's
 * uniform params pages and logitsAll's transient readbacks are not counted.
 */
export function activationBytes(
  config: LlamaConfig,
  ctx: number,
  chunk = Math.min(ctx, PREFILL_CHUNK),
  scratchBytes = 0,
): number {
  const b = gpuBufferBytes;
  const qDim = config.nHeads * config.headSize;
  const rows = (cols: number) => b(chunk * cols * 4);
  const V = config.vocabSize;
  return (
    b(ctx * 4) +
    2 * rows(config.dim) +
    rows(qDim + 2 * kvDim(config)) +
    rows(qDim) +
    rows(2 * config.hiddenDim) +
    rows(config.hiddenDim) +
    2 * b(V * 4) +
    2 * b(4) +
    b(ctx * config.headSize * 4) +
    rows(V) +
    (scratchBytes > 0 ? b(scratchBytes) : 0)
  );
}

/**
 * Scratch bytes of the LLM.int8 prefill matmul (src/gpu/matmul-quant.ts matmulScratchBytes):
 * outlier mask ⌈K/32⌉, row scales (M), int8 x (M, ⌈K/4⌉) words, the largest over the model's
 * LLM.int8 linears; 0 without any or when chunks are single rows.
 */
export function int8ScratchBytes(tensors: readonly TensorPlanEntry[], chunk: number): number {
  if (chunk <= 1) return 0;
  let most = 0;
  for (const t of tensors) {
    if (t.format !== 'llmint8') continue;
    const K = t.cols ?? 0;
    most = Math.max(most, 4 * (Math.ceil(K / 32) + chunk + chunk * Math.ceil(K / 4)));
  }
  return most;
}

export const kvCacheBytes = (config: LlamaConfig, ctx: number): number => 2 * config.nLayers * ctx * kvDim(config) * 4;

/**
 * Rows per part when `t` is split across bindings of `cap` bytes (the rule in the header):
 * ⌊cap / rowBytes⌋ rounded down to a multiple of rowAlign; 0 when not even that many fit.
 */
export function rowsPerPart(t: Pick<TensorPlanEntry, 'bytes' | 'rows' | 'rowAlign'>, cap: number): number {
  const rowBytes = t.bytes / Math.max(1, t.rows);
  const align = t.rowAlign ?? 1;
  return Math.floor(Math.floor(cap / rowBytes) / align) * align;
}

/**
 * The plan for `tensors` (describeModelTensors in core/model-tensors.ts, or the same entries from
 * file headers) at `contextLength` positions on `budget` (null: no GPU). `prefillChunk` is the
 * runner's prefill chunk (default PREFILL_CHUNK), which sizes the activations.
 */
export function planMemory(
  config: LlamaConfig,
  tensors: readonly TensorPlanEntry[],
  contextLength: number,
  budget: DeviceBudget | null,
  prefillChunk = PREFILL_CHUNK,
): MemoryPlan {
  const ctx = contextLength;
  const chunk = Math.min(ctx, prefillChunk);
  const byFormat: Record<string, number> = {};
  let weightBytes = 0;
  let cpuBytes = 0;
  let largest: MemoryPlan['largest'] = null;
  for (const t of tensors) {
    weightBytes += t.bytes;
    byFormat[t.format] = (byFormat[t.format] ?? 0) + t.bytes;
    cpuBytes += t.format === 'f32' || t.format === 'f16' ? t.bytes : 0;
    if (!largest || t.bytes > largest.bytes) largest = { name: t.name, bytes: t.bytes };
  }
  const kv = kvCacheBytes(config, ctx);
  const act = activationBytes(config, ctx, chunk, int8ScratchBytes(tensors, chunk));
  const total = weightBytes + kv + act;
  const base = {
    contextLength: ctx,
    weightBytes,
    weightBytesByFormat: byFormat,
    kvCacheBytes: kv,
    activationBytes: act,
    totalBytes: total,
    cpuBytes,
    largest,
  };
  if (!budget)
    return {
      ...base,
      bindingCap: null,
      splits: [],
      verdict: 'no-gpu',
      reasons: ['no WebGPU device: the model runs on the CPU'],
      maxContextForBinding: null,
      memoryHint: null,
    };

  const cap = Math.min(budget.maxBufferSize, budget.maxStorageBufferBindingSize);
  const reasons: string[] = [];
  const splits: SplitPlan[] = [];
  for (const t of tensors) {
    if (t.bytes <= cap) continue;
    const rows = rowsPerPart(t, cap);
    if (rows < 1) {
      const align = t.rowAlign ?? 1;
      const unit = align > 1 ? `${align} rows (the smallest split of its packing) take` : 'one row is';
      reasons.push(
        `${t.name}: ${unit} ${MiB((t.bytes / Math.max(1, t.rows)) * align)}, more than one binding holds (${MiB(cap)})`,
      );
      continue;
    }
    splits.push({ name: t.name, bytes: t.bytes, parts: Math.ceil(t.rows / rows), rowsPerPart: rows });
  }
  const kvLayer = ctx * kvDim(config) * 4;
  const maxContextForBinding = Math.floor(cap / (kvDim(config) * 4));
  if (kvLayer > cap)
    reasons.push(
      `the KV cache of one layer at ${ctx} positions is ${MiB(kvLayer)}, more than one binding holds (${MiB(cap)}): choose a context of at most ${maxContextForBinding}`,
    );
  if (budget.memoryHintBytes !== null && total > budget.memoryHintBytes) {
    reasons.push(
      `it needs ${MiB(total)} of GPU memory; ${budget.memoryHintSource ?? 'this device'} suggests at most ${MiB(budget.memoryHintBytes)}: quantize it or shorten the context`,
    );
  }
  const verdict: PlanVerdict = reasons.length ? 'too-large' : splits.length ? 'fits-split' : 'fits';
  if (verdict === 'fits-split')
    reasons.push(
      `${splits.map((s) => `${s.name} (${MiB(s.bytes)})`).join(', ')} ${splits.length === 1 ? 'is' : 'are'} larger than one binding (${MiB(cap)}) and will be split by rows`,
    );
  const memoryHint =
    budget.memoryHintBytes === null
      ? null
      : { bytes: budget.memoryHintBytes, source: budget.memoryHintSource ?? 'this device' };
  return { ...base, bindingCap: cap, splits, verdict, reasons, maxContextForBinding, memoryHint };
}
