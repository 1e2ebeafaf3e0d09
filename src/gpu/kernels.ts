// One thin wrapper per kernel: validate shapes → bind → dispatch into the recorder's pass.
// Shapes are in elements; every buffer is checked to be large enough for what the kernel
// will touch, so a wrong size fails here with a message instead of reading garbage.
import type { GpuContext } from './device.ts';
import * as q from './matmul-quant.ts';
import { PROLOGUE_ID, matmulScratchBytes, type MatmulCall, type Prologue, type Sink } from './matmul-quant.ts';
import { NibbleError } from '../core/errors.ts';
import type { RopeScaling } from '../core/model/model.ts';
import { ropeInvFreqFor } from '../core/model/rope.ts';
import { fail, holds, positive } from './checks.ts';
import type { Constants, KernelName } from './kernel-table.ts';
import type { Recorder } from './recorder.ts';
import { weightBuffers, type GpuWeight, type LeafWeight } from './weights.ts';

export type { Prologue } from './matmul-quant.ts';

const WG = 64; // threads per workgroup of the elementwise kernels

/**
 * out (M, dim) = rows of table (vocab, dim) picked by tokens[tokOff .. tokOff + M). `table` is
 * rows row0 .. row0 + rows - 1 of it (default: all); output rows of tokens outside that range
 * are left as they are (see embedTable).
 */
export function embed(
  rec: Recorder,
  a: {
    tokens: GPUBuffer;
    tokOff: number;
    table: GPUBuffer;
    out: GPUBuffer;
    M: number;
    dim: number;
    vocab: number;
    row0?: number;
    rows?: number;
  },
): void {
  embedRows(rec, {
    tokens: a.tokens,
    tokOff: a.tokOff,
    table: { format: 'f32', n: a.rows ?? a.vocab, k: a.dim, data: a.table },
    out: a.out,
    M: a.M,
    vocab: a.vocab,
    row0: a.row0,
  });
}

/**
 * As `embed` from a table leaf in any format the embedding kernels read, decoded to f32 as
 * core's f32Values does (exactly): embed_f32, embed_f16 (fp16 pairs), embed_qn (uniform
 * q8 / q4 / q2 rows, per-row or grouped scales, sym or asym, no gIdx). The leaf holds rows
 * row0 .. row0 + table.n − 1 of the (vocab, table.k) table.
 */
export function embedRows(
  rec: Recorder,
  a: { tokens: GPUBuffer; tokOff: number; table: LeafWeight; out: GPUBuffer; M: number; vocab: number; row0?: number },
): void {
  const t = a.table;
  const { n: rows, k: dim } = t;
  const row0 = a.row0 ?? 0;
  positive('embed', ['M', a.M], ['dim', dim], ['vocab', a.vocab], ['rows', rows]);
  if (!Number.isInteger(row0) || row0 < 0 || row0 + rows > a.vocab)
    fail(`embed: rows ${row0}..${row0 + rows - 1} are outside the vocabulary of ${a.vocab}`);
  holds('embed tokens', a.tokens, a.tokOff + a.M);
  const params = { M: a.M, dim, vocab: a.vocab, tok_off: a.tokOff, row0, rows };
  const workgroups = rec.grid(Math.ceil((a.M * dim) / WG));
  switch (t.format) {
    case 'f32':
      holds('embed table', t.data, rows * dim);
      holds('embed out', a.out, a.M * dim);
      return rec.dispatch('embed_f32', { buffers: [a.tokens, t.data, a.out], params, workgroups });
    case 'f16':
      holds('embed table', t.data, Math.ceil((rows * dim) / 2));
      holds('embed out', a.out, a.M * dim);
      return rec.dispatch('embed_f16', { buffers: [a.tokens, t.data, a.out], params, workgroups });
    case 'q8':
    case 'q4':
    case 'q2':
      if (t.gIdx) fail('embed: a quantized table with act-order gIdx is not readable by rows');
      holds('embed q', t.data, rows * t.wpr);
      holds('embed scales', t.scales, t.scaleF16 ? Math.ceil((rows * t.nGroups) / 2) : rows * t.nGroups);
      holds('embed out', a.out, a.M * dim);
      return rec.dispatch('embed_qn', {
        constants: embedPipeline(t)[1],
        buffers: [a.tokens, t.data, t.scales, t.zeros ?? t.scales, a.out],
        params: { ...params, group: t.group, n_groups: t.nGroups, wpr: t.wpr },
        workgroups,
      });
    default:
      fail(`embed: no embedding kernel reads a ${t.format} table (upload it with uploadTable)`);
  }
}

/** The (kernel, constants) pair `embed` dispatches for a table leaf (pipeline warm-up). */
export function embedPipeline(t: LeafWeight): [KernelName, Constants] {
  if (t.format === 'f32') return ['embed_f32', {}];
  if (t.format === 'f16') return ['embed_f16', {}];
  if (t.format === 'q8' || t.format === 'q4' || t.format === 'q2')
    return ['embed_qn', { BITS: t.bits, SCALE_F16: t.scaleF16 ? 1 : 0, ASYM: t.zeros ? 1 : 0 }];
  return fail(`embed: no embedding kernel reads a ${t.format} table`);
}

/**
 * Embedding lookup from a table uploaded by uploadTable (one leaf, or a stack of row parts split
 * across bindings, src/gpu/weights.ts): one dispatch per part that holds one of `ids` (the
 * step's token ids, known on the CPU), so a decode step costs one dispatch however the table
 * is split. Without `ids`, every part is dispatched.
 */
export function embedTable(
  rec: Recorder,
  a: { tokens: GPUBuffer; tokOff: number; ids?: readonly number[]; table: GpuWeight; out: GPUBuffer; M: number },
): void {
  const parts = a.table.format === 'stack' ? a.table.parts : [a.table];
  let row0 = 0;
  for (const part of parts) {
    if (!a.ids || a.ids.some((t) => t >= row0 && t < row0 + part.n)) {
      embedRows(rec, { tokens: a.tokens, tokOff: a.tokOff, table: part, out: a.out, M: a.M, vocab: a.table.n, row0 });
    }
    row0 += part.n;
  }
}

/** out (M, dim) = RMSNorm of each row of x (M, dim), scaled by weight (dim). */
export function rmsnorm(
  rec: Recorder,
  a: { x: GPUBuffer; weight: GPUBuffer; out: GPUBuffer; M: number; dim: number; eps: number },
): void {
  positive('rmsnorm', ['M', a.M], ['dim', a.dim]);
  holds('rmsnorm x', a.x, a.M * a.dim);
  holds('rmsnorm weight', a.weight, a.dim);
  holds('rmsnorm out', a.out, a.M * a.dim);
  rec.dispatch('rmsnorm_f32', {
    buffers: [a.x, a.weight, a.out],
    params: { M: a.M, dim: a.dim, eps: a.eps },
    workgroups: rec.grid(a.M),
  });
}

const GEMV_ROWS = 8; // rows per GEMV workgroup: ROWS in matmul_gemv_f32*.wgsl

/**
 * Threads per GEMV workgroup (the WG override): about K/4 so that each thread has a few
 * k values and none idles (K = 64 → 32), between 32 and 128.
 */
export const gemvWorkgroupSize = (K: number): number =>
  Math.min(128, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(K / 4)))));

/** Override constants of the f32 M = 1 kernel for K, a prologue and an epilogue. */
export const gemvConstants = (K: number, prologue: Prologue['kind'] | 'none', accumulate: boolean): Constants => ({
  WG: gemvWorkgroupSize(K),
  PROLOGUE: PROLOGUE_ID[prologue],
  ACCUMULATE: accumulate ? 1 : 0,
});
/** Override constants of the f32 M > 1 kernel. */
export const gemmConstants = (accumulate: boolean): Constants => ({ ACCUMULATE: accumulate ? 1 : 0 });

export interface MatmulArgs {
  x: GPUBuffer; // (M, K) at element offset xOff; (M, 2K) = [gate | up] for the swiglu prologue
  w: GpuWeight; // (N, K), any format
  out: GPUBuffer; // (M, N)
  M: number;
  xOff?: number; // M = 1 only: read x from this element offset (e.g. the last row)
  prologue?: Prologue; // M = 1 only
  accumulate?: boolean; // out += x·Wᵀ (residual add) instead of out = x·Wᵀ
  scratch?: GPUBuffer; // LLM.int8 with M > 1: matmulScratchBytes(w, M) bytes, reused freely
}

/**
 * out (M, N) (+)= x̂ (M, K) · Wᵀ for a weight in any format: validates the shapes, then
 * dispatches each part of the weight (one unless it is a 'stack') through `dispatchMatmul`.
 */
export function matmul(rec: Recorder, a: MatmulArgs): void {
  const { n: N, k: K } = a.w;
  const xOff = a.xOff ?? 0;
  positive('matmul', ['M', a.M], ['N', N], ['K', K]);
  if (a.M > 1 && (a.prologue || xOff)) fail('matmul: a prologue or x offset needs M = 1 (decode)');
  if (a.x === a.out) fail('matmul: x and out must be different buffers');
  const xCols = a.prologue?.kind === 'swiglu' ? 2 * K : K;
  holds('matmul x', a.x, xOff + a.M * xCols);
  holds('matmul out', a.out, a.M * N);
  if (a.prologue?.kind === 'rmsnorm') holds('matmul norm weight', a.prologue.weight, K);
  const scratchBytes = matmulScratchBytes(a.w, a.M);
  if (scratchBytes && (!a.scratch || a.scratch.size < scratchBytes)) {
    fail(
      `matmul: LLM.int8 with M = ${a.M} needs a scratch buffer of ${scratchBytes} bytes, got ${a.scratch?.size ?? 'none'}`,
    );
  }
  if (a.M > 1) {
    const max = rec.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (Math.ceil(N / 32) > max || Math.ceil(a.M / 32) > max)
      fail(`matmul: (${a.M}, ${N}) output needs too many tiles`);
  }
  const call: MatmulCall = {
    x: a.x,
    out: a.out,
    M: a.M,
    xOff,
    prologue: a.prologue,
    accumulate: a.accumulate ?? false,
    scratch: a.scratch,
    nOff: 0,
    ldo: N,
  };
  for (const w of a.w.format === 'stack' ? a.w.parts : [a.w]) {
    dispatchMatmul(rec, call, w);
    call.nOff += w.n;
  }
}

/**
 * THE kernel switch for matmuls: (weight format, M = 1 or M > 1, the device's choice) → the
 * kernel(s) dispatched. f32 uses the GEMV variant chooseKernels picked (subgroup or workgroup
 * reductions) or the tiled GEMM; f16 its own GEMV / GEMM (fp16 pairs unpacked in registers, f32
 * arithmetic, no optional feature); the quantized formats use their dequant-fused kernels
 * (src/gpu/matmul-quant.ts), which need no optional feature; LLM.int8 needs WGSL's
 * packed_4x8_integer_dot_product (dot4I8Packed).
 */
export function dispatchMatmul(sink: Sink, c: MatmulCall, w: LeafWeight): void {
  const gemv = c.M === 1;
  switch (w.format) {
    case 'f32':
    case 'f16': {
      // One part of a stack (a row part of a split weight) writes output columns nOff.. of ldo.
      // f16: fp16 pairs widened in registers (unpack2x16float): core WGSL, any device.
      const f16 = w.format === 'f16';
      holds('matmul w', w.data, f16 ? Math.ceil((w.n * w.k) / 2) : w.n * w.k);
      const rms = c.prologue?.kind === 'rmsnorm' ? c.prologue : undefined;
      if (gemv) {
        sink.dispatch(f16 ? 'matmul_gemv_f16' : sink.ctx.kernels.gemv, {
          constants: gemvConstants(w.k, c.prologue?.kind ?? 'none', c.accumulate),
          buffers: [w.data, c.x, rms ? rms.weight : f16 ? c.x : w.data, c.out],
          params: { K: w.k, N: w.n, x_off: c.xOff, eps: rms ? rms.eps : 0, n_off: c.nOff },
          workgroups: sink.grid(Math.ceil(w.n / GEMV_ROWS)),
        });
      } else {
        sink.dispatch(f16 ? 'matmul_gemm_f16' : 'matmul_gemm_f32', {
          constants: gemmConstants(c.accumulate),
          buffers: [c.x, w.data, c.out],
          params: { M: c.M, N: w.n, K: w.k, n_off: c.nOff, ldo: c.ldo },
          workgroups: [Math.ceil(w.n / 32), Math.ceil(c.M / 32)],
        });
      }
      return;
    }
    case 'q8':
    case 'q4':
    case 'q3':
    case 'q2':
      holds('matmul q', w.data, w.n * w.wpr);
      holds('matmul scales', w.scales, w.scaleF16 ? Math.ceil((w.n * w.nGroups) / 2) : w.n * w.nGroups);
      return gemv ? q.uniformGemv(sink, c, w) : q.uniformGemm(sink, c, w);
    case 'nf4':
    case 'fp4':
      holds('matmul q', w.data, Math.ceil((w.n * w.k) / 8));
      holds('matmul absmax', w.absmax, Math.ceil((w.n * w.k) / w.block));
      return gemv ? q.codebookGemv(sink, c, w) : q.codebookGemm(sink, c, w);
    case 'llmint8':
      holds('matmul q', w.data, w.n * w.wpr);
      holds('matmul scales', w.scales, w.n);
      if (!sink.ctx.kernels.int8Dot) {
        throw new NibbleError(
          'unsupported',
          'LLM.int8 weights need WGSL dot4I8Packed (packed_4x8_integer_dot_product), which this browser does not offer; use the CPU backend for this variant',
        );
      }
      return gemv ? q.int8Gemv(sink, c, w) : q.int8Gemm(sink, c, w);
    default: {
      const never: never = w;
      fail(`matmul: no kernel for weight format ${(never as LeafWeight).format}`);
    }
  }
}

/**
 * The (kernel, constants) pairs `matmul` dispatches for this weight, M (1 or more), prologue
 * and epilogue — from the same switch, so a runner can compile them before its first step.
 */
export function matmulPipelines(
  ctx: GpuContext,
  w: GpuWeight,
  M: number,
  prologue: Prologue['kind'] | 'none',
  accumulate: boolean,
): [KernelName, Constants][] {
  const found: [KernelName, Constants][] = [];
  const any = weightBuffers(w)[0]; // stands in for every buffer: only kernels and constants are kept
  const sink: Sink = { ctx, grid: (n) => [n, 1], dispatch: (kernel, d) => found.push([kernel, d.constants ?? {}]) };
  const call: MatmulCall = {
    x: any,
    out: any,
    M,
    xOff: 0,
    accumulate,
    scratch: any,
    nOff: 0,
    ldo: w.n,
    prologue:
      prologue === 'rmsnorm'
        ? { kind: 'rmsnorm', weight: any, eps: 0 }
        : prologue === 'swiglu'
          ? { kind: 'swiglu' }
          : undefined,
  };
  for (const part of w.format === 'stack' ? w.parts : [w]) {
    dispatchMatmul(sink, call, part);
    call.nOff += part.n;
  }
  return found;
}

export interface RopeArgs {
  qkv: GPUBuffer; // (M, stride): q at column 0, k at kOff, v at vOff
  kcache: GPUBuffer; // (seqLen, nKv·hs)
  vcache: GPUBuffer; // (seqLen, nKv·hs)
  table: GPUBuffer; // (seqLen, hs/2) of (cos, sin), from ropeTable / ropeTableOf
  M: number;
  pos0: number;
  nHeads: number;
  nKv: number;
  hs: number;
  stride: number;
  kOff: number;
  vOff: number;
  style: 'interleaved' | 'half';
  bias?: GPUBuffer; // (stride): bq;bk;bv as one qkv row, added before rotating (Qwen2)
  qkNorm?: { weight: GPUBuffer; eps: number }; // weight (2·hs): q;k per-head RMSNorm weights (Qwen3)
}

/**
 * Rotates q in place and k into the cache for positions pos0..pos0+M-1; copies v into the
 * cache. With `bias`, q, k and v get their bias added first; with `qkNorm`, each q and k head is
 * then RMS-normed over its hs values (fused: no extra dispatch either way).
 */
export function rope(rec: Recorder, a: RopeArgs): void {
  positive('rope', ['M', a.M], ['nHeads', a.nHeads], ['nKv', a.nKv], ['hs', a.hs], ['stride', a.stride]);
  if (a.hs % 2) fail(`rope: head size ${a.hs} is odd`);
  const kvDim = a.nKv * a.hs;
  if (a.nHeads * a.hs > a.kOff || a.kOff + kvDim > a.vOff || a.vOff + kvDim > a.stride) {
    fail(
      `rope: q (${a.nHeads * a.hs}) / k at ${a.kOff} / v at ${a.vOff} (${kvDim} each) do not fit a row of ${a.stride}`,
    );
  }
  holds('rope qkv', a.qkv, a.M * a.stride);
  holds('rope kcache', a.kcache, (a.pos0 + a.M) * kvDim);
  holds('rope vcache', a.vcache, (a.pos0 + a.M) * kvDim);
  holds('rope table', a.table, (a.pos0 + a.M) * a.hs);
  if (a.bias) holds('rope bias', a.bias, a.stride);
  if (a.qkNorm) holds('rope qk norm', a.qkNorm.weight, 2 * a.hs);
  rec.dispatch('rope_f32', {
    constants: ropeConstants(a.hs, !!a.bias, !!a.qkNorm),
    buffers: [a.qkv, a.kcache, a.vcache, a.table, a.bias ?? a.table, a.qkNorm?.weight ?? a.table],
    params: {
      M: a.M,
      pos0: a.pos0,
      n_heads: a.nHeads,
      n_kv: a.nKv,
      hs: a.hs,
      stride: a.stride,
      k_off: a.kOff,
      v_off: a.vOff,
      style: a.style === 'interleaved' ? 0 : 1,
      eps: a.qkNorm?.eps ?? 0,
    },
    workgroups: rec.grid(a.M * (a.nHeads + a.nKv)),
  });
}

/** Threads per rope_f32 workgroup (one head): the power of two ≥ hs/2 pairs, at most 64. */
export const ropeWorkgroupSize = (hs: number): number => Math.min(WG, 2 ** Math.ceil(Math.log2(Math.max(1, hs / 2))));

/** Override constants of rope_f32 for head size hs: BIAS adds the attention biases, QK_NORM norms q/k heads. */
export const ropeConstants = (hs: number, bias: boolean, qkNorm: boolean): Constants => ({
  WG: ropeWorkgroupSize(hs),
  BIAS: bias ? 1 : 0,
  QK_NORM: qkNorm ? 1 : 0,
});

/**
 * (seqLen, hs/2) pairs (cos, sin) of pos · invFreq[i], computed in f64 as ops.rope does with the
 * same table (invFreq: hs/2 values, src/core/model/rope.ts ropeInvFreq).
 */
export function ropeTableOf(seqLen: number, invFreq: ArrayLike<number>): Float32Array {
  const half = invFreq.length;
  const t = new Float32Array(seqLen * 2 * half);
  for (let pos = 0; pos < seqLen; pos++) {
    for (let i = 0; i < half; i++) {
      const a = pos * invFreq[i];
      t[(pos * half + i) * 2] = Math.cos(a);
      t[(pos * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  return t;
}

/** ropeTableOf for theta^(-2i/hs), rescaled by `scaling` when given (ropeInvFreqFor). */
export const ropeTable = (seqLen: number, hs: number, theta: number, scaling?: RopeScaling): Float32Array =>
  ropeTableOf(seqLen, ropeInvFreqFor(hs, theta, scaling));

export interface AttentionArgs {
  q: GPUBuffer; // (M, qStride), head h at columns h·hs..
  qStride: number;
  kcache: GPUBuffer; // (seqLen, nKv·hs), rows 0..pos0+M-1 filled
  vcache: GPUBuffer;
  out: GPUBuffer; // (M, nHeads·hs)
  M: number;
  pos0: number;
  nHeads: number;
  nKv: number;
  hs: number;
}

export const MAX_HEAD_SIZE = 256; // attention_f32 MAX_HS

/** Causal GQA attention of M queries at positions pos0.. over the cache. */
export function attention(rec: Recorder, a: AttentionArgs): void {
  positive('attention', ['M', a.M], ['nHeads', a.nHeads], ['nKv', a.nKv], ['hs', a.hs]);
  if (a.hs > MAX_HEAD_SIZE) fail(`attention: head size ${a.hs} exceeds ${MAX_HEAD_SIZE}`);
  if (a.nHeads % a.nKv) fail(`attention: ${a.nHeads} heads do not split into ${a.nKv} kv heads`);
  if (a.qStride < a.nHeads * a.hs) fail(`attention: q stride ${a.qStride} < ${a.nHeads * a.hs}`);
  const max = rec.ctx.limits.maxComputeWorkgroupsPerDimension;
  if (a.nHeads > max || a.M > max) fail(`attention: (${a.nHeads}, ${a.M}) workgroups exceed ${max}`);
  holds('attention q', a.q, a.M * a.qStride);
  holds('attention kcache', a.kcache, (a.pos0 + a.M) * a.nKv * a.hs);
  holds('attention vcache', a.vcache, (a.pos0 + a.M) * a.nKv * a.hs);
  holds('attention out', a.out, a.M * a.nHeads * a.hs);
  rec.dispatch('attention_f32', {
    buffers: [a.q, a.kcache, a.vcache, a.out],
    params: {
      M: a.M,
      pos0: a.pos0,
      n_heads: a.nHeads,
      n_kv: a.nKv,
      hs: a.hs,
      q_stride: a.qStride,
      scale: 1 / Math.sqrt(a.hs),
    },
    workgroups: [a.nHeads, a.M],
  });
}

/** out (M, H) = silu(gate) ⊙ up, from gu (M, 2H) rows [gate | up]. */
export function siluMul(rec: Recorder, a: { gu: GPUBuffer; out: GPUBuffer; M: number; H: number }): void {
  positive('siluMul', ['M', a.M], ['H', a.H]);
  holds('siluMul gu', a.gu, a.M * 2 * a.H);
  holds('siluMul out', a.out, a.M * a.H);
  rec.dispatch('silu_mul_f32', {
    buffers: [a.gu, a.out],
    params: { M: a.M, H: a.H },
    workgroups: rec.grid(Math.ceil((a.M * a.H) / WG)),
  });
}

/** out[0] (u32) = argmax of x[off .. off + n), ties to the lowest index. */
export function argmax(rec: Recorder, a: { x: GPUBuffer; n: number; off?: number; out: GPUBuffer }): void {
  const off = a.off ?? 0;
  positive('argmax', ['n', a.n]);
  holds('argmax x', a.x, off + a.n);
  holds('argmax out', a.out, 1);
  rec.dispatch('argmax_f32', { buffers: [a.x, a.out], params: { n: a.n, off }, workgroups: [1] });
}
