// The quantized matmul wrappers: bind a packed weight (src/gpu/weights.ts) to its dequant-fused
// kernel and dispatch. src/gpu/kernels.ts `matmul` validates the shapes and picks which of
// these runs in its one switch on (format, M = 1 or M > 1, capabilities); the same functions
// list the pipelines a runner will use, so warm-up compiles exactly what steps dispatch.
//
// Kernels (shaders/, one per file; headers give bindings, layouts and dispatch shapes):
//   q8 / q4 / q3 / q2   M = 1: matmul_gemv_qn   M > 1: matmul_gemm_qn        (override BITS)
//   nf4 / fp4           M = 1: matmul_gemv_nf4  M > 1: matmul_gemm_nf4       (override CODEBOOK)
//   llmint8             M = 1: matmul_gemv_llmint8 (finds its own outliers and amax)
//                       M > 1: matmul_prep_llmint8 → matmul_gemm_llmint8 (through a scratch buffer)
// The GEMVs fuse the same prologues (RMSNorm, SwiGLU) and residual epilogue as the f32 GEMV.
// Every kernel writes output columns n_off .. n_off + N of rows of ldo values, so a stack of
// weights that could not be merged is one dispatch per part into the same output.
import type { GpuContext } from './device.ts';
import type { Constants, KernelName } from './kernel-table.ts';
import type { Dispatch } from './recorder.ts';
import type { CodebookWeight, GpuWeight, Int8Weight, UniformWeight } from './weights.ts';

/** What a matmul wrapper needs of a Recorder (the pipeline warm-up passes a collector). */
export interface Sink {
  readonly ctx: GpuContext;
  grid(count: number): [number, number];
  dispatch(kernel: KernelName, d: Dispatch): void;
}

/** What the GEMV computes from x before the matmul (decode only; prefill runs separate kernels). */
export type Prologue = { kind: 'rmsnorm'; weight: GPUBuffer; eps: number } | { kind: 'swiglu' };
export const PROLOGUE_ID = { none: 0, rmsnorm: 1, swiglu: 2 } as const;

/** The buffers and options of one matmul, as the wrappers receive them (validated by kernels.ts). */
export interface MatmulCall {
  x: GPUBuffer;
  out: GPUBuffer;
  M: number;
  xOff: number;
  prologue?: Prologue;
  accumulate: boolean;
  scratch?: GPUBuffer; // llmint8, M > 1
  nOff: number; // first output column written
  ldo: number; // output row stride (M > 1)
}

const ROWS = 8; // rows per workgroup of the quantized GEMVs: ROWS in their .wgsl
const TILE = 32; // output tile of the quantized GEMMs

/** Threads of a quantized GEMV for `chunks` chunks per row: TC lanes along K, WG = TC · row groups. */
export function gemvShape(chunks: number): { WG: number; TC: number } {
  const TC = Math.min(128, 2 ** Math.ceil(Math.log2(Math.max(1, chunks))));
  return { WG: Math.min(128, TC * ROWS), TC };
}

const gemvCommon = (c: MatmulCall, chunks: number): Constants => ({
  ...gemvShape(chunks),
  PROLOGUE: PROLOGUE_ID[c.prologue?.kind ?? 'none'],
  ACCUMULATE: c.accumulate ? 1 : 0,
});
const normWeight = (c: MatmulCall, fallback: GPUBuffer): GPUBuffer =>
  c.prologue?.kind === 'rmsnorm' ? c.prologue.weight : fallback;
const eps = (c: MatmulCall): number => (c.prologue?.kind === 'rmsnorm' ? c.prologue.eps : 0);
const tiles = (M: number, N: number): [number, number] => [Math.ceil(N / TILE), Math.ceil(M / TILE)];

// ---- uniform q8 / q4 / q3 / q2 ----------------------------------------------------------------

const uniformFlags = (w: UniformWeight): Constants => ({
  BITS: w.bits,
  SCALE_F16: w.scaleF16 ? 1 : 0,
  ASYM: w.zeros ? 1 : 0,
  GIDX: w.gIdx ? 1 : 0,
});

export function uniformGemv(sink: Sink, c: MatmulCall, w: UniformWeight): void {
  const cv = w.bits === 3 ? 32 : 32 / w.bits; // values per chunk
  sink.dispatch('matmul_gemv_qn', {
    constants: { ...gemvCommon(c, Math.ceil(w.k / cv)), ...uniformFlags(w) },
    buffers: [w.data, w.scales, w.zeros ?? w.scales, w.gIdx ?? w.scales, c.x, normWeight(c, w.scales), c.out],
    params: {
      K: w.k,
      N: w.n,
      x_off: c.xOff,
      eps: eps(c),
      group: w.group,
      n_groups: w.nGroups,
      wpr: w.wpr,
      n_off: c.nOff,
    },
    workgroups: sink.grid(Math.ceil(w.n / ROWS)),
  });
}

export function uniformGemm(sink: Sink, c: MatmulCall, w: UniformWeight): void {
  sink.dispatch('matmul_gemm_qn', {
    constants: { ACCUMULATE: c.accumulate ? 1 : 0, ...uniformFlags(w) },
    buffers: [c.x, w.data, w.scales, w.zeros ?? w.scales, w.gIdx ?? w.scales, c.out],
    params: { M: c.M, N: w.n, K: w.k, group: w.group, n_groups: w.nGroups, wpr: w.wpr, n_off: c.nOff, ldo: c.ldo },
    workgroups: tiles(c.M, w.n),
  });
}

// ---- NF4 / FP4 --------------------------------------------------------------------------------

const CODEBOOK_ID = { nf4: 0, fp4: 1 } as const;

export function codebookGemv(sink: Sink, c: MatmulCall, w: CodebookWeight): void {
  sink.dispatch('matmul_gemv_nf4', {
    constants: { ...gemvCommon(c, Math.ceil(w.k / 8)), CODEBOOK: CODEBOOK_ID[w.format] },
    buffers: [w.data, w.absmax, c.x, normWeight(c, w.absmax), c.out],
    params: { K: w.k, N: w.n, x_off: c.xOff, eps: eps(c), block: w.block, n_off: c.nOff },
    workgroups: sink.grid(Math.ceil(w.n / ROWS)),
  });
}

export function codebookGemm(sink: Sink, c: MatmulCall, w: CodebookWeight): void {
  sink.dispatch('matmul_gemm_nf4', {
    constants: { ACCUMULATE: c.accumulate ? 1 : 0, CODEBOOK: CODEBOOK_ID[w.format] },
    buffers: [c.x, w.data, w.absmax, c.out],
    params: { M: c.M, N: w.n, K: w.k, block: w.block, n_off: c.nOff, ldo: c.ldo },
    workgroups: tiles(c.M, w.n),
  });
}

// ---- LLM.int8 ---------------------------------------------------------------------------------

const f32Bits = new Uint32Array(1);
const f32View = new Float32Array(f32Bits.buffer);

/**
 * The threshold as the kernels' uniform pair: `outliers` 0 for Infinity (W8A8), else `thr` =
 * the smallest f32 ≥ threshold, so that |x| ≥ thr in f32 is |x| ≥ threshold exactly.
 */
export function thresholdParams(threshold: number): { thr: number; outliers: number } {
  if (!Number.isFinite(threshold)) return { thr: 0, outliers: 0 };
  f32View[0] = threshold;
  if (f32View[0] < threshold) f32Bits[0] += threshold > 0 ? 1 : -1;
  return { thr: f32View[0], outliers: 1 };
}

/** Scratch words of one M > 1 LLM.int8 matmul: mask ⌈K/32⌉, sx (M), xq (M, ⌈K/4⌉). */
export const int8ScratchLayout = (M: number, K: number) => {
  const sxOff = Math.ceil(K / 32);
  const xqOff = sxOff + M;
  return { maskOff: 0, sxOff, xqOff, words: xqOff + M * Math.ceil(K / 4) };
};

/** Bytes of scratch a matmul of this weight with M rows needs (0 unless LLM.int8 with M > 1). */
export function matmulScratchBytes(w: GpuWeight, M: number): number {
  if (M === 1) return 0;
  const leaves = w.format === 'stack' ? w.parts : [w];
  return leaves.some((l) => l.format === 'llmint8') ? 4 * int8ScratchLayout(M, w.k).words : 0;
}

export function int8Gemv(sink: Sink, c: MatmulCall, w: Int8Weight): void {
  sink.dispatch('matmul_gemv_llmint8', {
    constants: gemvCommon(c, w.wpr),
    buffers: [w.data, w.scales, c.x, normWeight(c, w.scales), c.out],
    params: { K: w.k, N: w.n, x_off: c.xOff, eps: eps(c), wpr: w.wpr, n_off: c.nOff, ...thresholdParams(w.threshold) },
    workgroups: sink.grid(Math.ceil(w.n / ROWS)),
  });
}

export function int8Gemm(sink: Sink, c: MatmulCall, w: Int8Weight): void {
  const s = int8ScratchLayout(c.M, w.k);
  const scratch = c.scratch!; // checked by kernels.ts
  const offs = { mask_off: s.maskOff, sx_off: s.sxOff, xq_off: s.xqOff };
  sink.dispatch('matmul_prep_llmint8', {
    buffers: [c.x, scratch],
    params: { M: c.M, K: w.k, wpr: w.wpr, ...thresholdParams(w.threshold), ...offs },
    workgroups: sink.grid(c.M),
  });
  sink.dispatch('matmul_gemm_llmint8', {
    constants: { ACCUMULATE: c.accumulate ? 1 : 0 },
    buffers: [c.x, scratch, w.data, w.scales, c.out],
    params: { M: c.M, N: w.n, K: w.k, wpr: w.wpr, n_off: c.nOff, ldo: c.ldo, ...offs },
    workgroups: tiles(c.M, w.n),
  });
}
