// One thin wrapper per kernel: validate shapes → bind → dispatch into the recorder's pass.
// Shapes are in elements; every buffer is checked to be large enough for what the kernel
// will touch, so a wrong size fails here with a message instead of reading garbage.
import { NibbleError } from '../core/errors.ts';
import type { Constants } from './pipelines.ts';
import type { Recorder } from './recorder.ts';
import type { GpuWeight } from './weights.ts';

const fail = (msg: string): never => {
  throw new NibbleError('bad-argument', msg);
};

function positive(what: string, ...dims: [string, number][]): void {
  for (const [name, v] of dims) {
    if (!Number.isInteger(v) || v < 1) fail(`${what}: ${name} must be a positive integer, got ${v}`);
  }
}

/** Checks that `buf` holds at least `floats` 32-bit values. */
function holds(what: string, buf: GPUBuffer, floats: number): void {
  if (buf.size < floats * 4) fail(`${what}: buffer ${buf.label || '?'} has ${buf.size} bytes, needs ${floats * 4}`);
}

const WG = 64; // threads per workgroup of the elementwise kernels

/** out (M, dim) = rows of table (vocab, dim) picked by tokens[tokOff .. tokOff + M). */
export function embed(
  rec: Recorder,
  a: { tokens: GPUBuffer; tokOff: number; table: GPUBuffer; out: GPUBuffer; M: number; dim: number; vocab: number },
): void {
  positive('embed', ['M', a.M], ['dim', a.dim], ['vocab', a.vocab]);
  holds('embed tokens', a.tokens, a.tokOff + a.M);
  holds('embed table', a.table, a.vocab * a.dim);
  holds('embed out', a.out, a.M * a.dim);
  rec.dispatch('embed_f32', {
    buffers: [a.tokens, a.table, a.out],
    params: { M: a.M, dim: a.dim, vocab: a.vocab, tok_off: a.tokOff },
    workgroups: rec.grid(Math.ceil((a.M * a.dim) / WG)),
  });
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

/** What the GEMV computes from x before the matmul (decode only; prefill runs separate kernels). */
export type Prologue = { kind: 'rmsnorm'; weight: GPUBuffer; eps: number } | { kind: 'swiglu' };

const GEMV_ROWS = 8; // rows per GEMV workgroup: ROWS in matmul_gemv_f32*.wgsl
const PROLOGUE_ID = { none: 0, rmsnorm: 1, swiglu: 2 } as const;

/**
 * Threads per GEMV workgroup (the WG override): about K/4 so that each thread has a few
 * k values and none idles (K = 64 → 32), between 32 and 128.
 */
export const gemvWorkgroupSize = (K: number): number => Math.min(128, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(K / 4)))));

/** Override constants of the M = 1 kernel for K, a prologue and an epilogue (also used to warm pipelines). */
export const gemvConstants = (K: number, prologue: Prologue['kind'] | 'none', accumulate: boolean): Constants => ({
  WG: gemvWorkgroupSize(K),
  PROLOGUE: PROLOGUE_ID[prologue],
  ACCUMULATE: accumulate ? 1 : 0,
});
/** Override constants of the M > 1 kernel. */
export const gemmConstants = (accumulate: boolean): Constants => ({ ACCUMULATE: accumulate ? 1 : 0 });

export interface MatmulArgs {
  x: GPUBuffer; // (M, K) at element offset xOff; (M, 2K) = [gate | up] for the swiglu prologue
  w: GpuWeight; // (N, K)
  out: GPUBuffer; // (M, N)
  M: number;
  xOff?: number; // M = 1 only: read x from this element offset (e.g. the last row)
  prologue?: Prologue; // M = 1 only
  accumulate?: boolean; // out += x·Wᵀ (residual add) instead of out = x·Wᵀ
}

/**
 * out (M, N) (+)= x̂ (M, K) · Wᵀ. Picks the kernel from (weight format, M = 1 or M > 1,
 * the device's variant choice) in one switch.
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
  const accumulate = a.accumulate ?? false;

  switch (a.w.format) {
    case 'f32': {
      holds('matmul w', a.w.data, N * K);
      if (a.M === 1) {
        const g = a.prologue?.kind === 'rmsnorm' ? a.prologue.weight : a.w.data; // unused unless rmsnorm
        rec.dispatch(rec.ctx.kernels.gemv, {
          constants: gemvConstants(K, a.prologue?.kind ?? 'none', accumulate),
          buffers: [a.w.data, a.x, g, a.out],
          params: { K, N, x_off: xOff, eps: a.prologue?.kind === 'rmsnorm' ? a.prologue.eps : 0 },
          workgroups: rec.grid(Math.ceil(N / GEMV_ROWS)),
        });
      } else {
        const tiles = [Math.ceil(N / 32), Math.ceil(a.M / 32)] as const;
        const max = rec.ctx.limits.maxComputeWorkgroupsPerDimension;
        if (tiles[0] > max || tiles[1] > max) fail(`matmul: (${a.M}, ${N}) output needs too many tiles`);
        rec.dispatch('matmul_gemm_f32', {
          constants: gemmConstants(accumulate),
          buffers: [a.x, a.w.data, a.out],
          params: { M: a.M, N, K },
          workgroups: tiles,
        });
      }
      return;
    }
    default: {
      const never: never = a.w.format;
      fail(`matmul: no kernel for weight format ${String(never)}`);
    }
  }
}

export interface RopeArgs {
  qkv: GPUBuffer; // (M, stride): q at column 0, k at kOff, v at vOff
  kcache: GPUBuffer; // (seqLen, nKv·hs)
  vcache: GPUBuffer; // (seqLen, nKv·hs)
  table: GPUBuffer; // (seqLen, hs/2) of (cos, sin), from ropeTable
  M: number;
  pos0: number;
  nHeads: number;
  nKv: number;
  hs: number;
  stride: number;
  kOff: number;
  vOff: number;
  style: 'interleaved' | 'half';
}

/** Rotates q in place and k into the cache for positions pos0..pos0+M-1; copies v into the cache. */
export function rope(rec: Recorder, a: RopeArgs): void {
  positive('rope', ['M', a.M], ['nHeads', a.nHeads], ['nKv', a.nKv], ['hs', a.hs], ['stride', a.stride]);
  if (a.hs % 2) fail(`rope: head size ${a.hs} is odd`);
  const kvDim = a.nKv * a.hs;
  if (a.nHeads * a.hs > a.kOff || a.kOff + kvDim > a.vOff || a.vOff + kvDim > a.stride) {
    fail(`rope: q (${a.nHeads * a.hs}) / k at ${a.kOff} / v at ${a.vOff} (${kvDim} each) do not fit a row of ${a.stride}`);
  }
  holds('rope qkv', a.qkv, a.M * a.stride);
  holds('rope kcache', a.kcache, (a.pos0 + a.M) * kvDim);
  holds('rope vcache', a.vcache, (a.pos0 + a.M) * kvDim);
  holds('rope table', a.table, (a.pos0 + a.M) * a.hs);
  rec.dispatch('rope_f32', {
    buffers: [a.qkv, a.kcache, a.vcache, a.table],
    params: {
      M: a.M, pos0: a.pos0, n_heads: a.nHeads, n_kv: a.nKv, hs: a.hs,
      stride: a.stride, k_off: a.kOff, v_off: a.vOff, style: a.style === 'interleaved' ? 0 : 1,
    },
    workgroups: rec.grid(Math.ceil((a.M * (a.nHeads + a.nKv) * (a.hs / 2)) / WG)),
  });
}

/** (seqLen, hs/2) pairs (cos, sin) of pos · theta^(-2i/hs), computed in f64 as ops.rope does. */
export function ropeTable(seqLen: number, hs: number, theta: number): Float32Array {
  const half = hs / 2;
  const t = new Float32Array(seqLen * hs);
  for (let pos = 0; pos < seqLen; pos++) {
    for (let i = 0; i < half; i++) {
      const a = pos * (1 / Math.pow(theta, (2 * i) / hs));
      t[(pos * half + i) * 2] = Math.cos(a);
      t[(pos * half + i) * 2 + 1] = Math.sin(a);
    }
  }
  return t;
}

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
      M: a.M, pos0: a.pos0, n_heads: a.nHeads, n_kv: a.nKv, hs: a.hs,
      q_stride: a.qStride, scale: 1 / Math.sqrt(a.hs),
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

/** x (n) += y (n). */
export function add(rec: Recorder, a: { x: GPUBuffer; y: GPUBuffer; n: number }): void {
  positive('add', ['n', a.n]);
  holds('add x', a.x, a.n);
  holds('add y', a.y, a.n);
  rec.dispatch('add_f32', { buffers: [a.x, a.y], params: { n: a.n }, workgroups: rec.grid(Math.ceil(a.n / WG)) });
}

/** out[0] (u32) = argmax of x[off .. off + n), ties to the lowest index. */
export function argmax(rec: Recorder, a: { x: GPUBuffer; n: number; off?: number; out: GPUBuffer }): void {
  const off = a.off ?? 0;
  positive('argmax', ['n', a.n]);
  holds('argmax x', a.x, off + a.n);
  holds('argmax out', a.out, 1);
  rec.dispatch('argmax_f32', { buffers: [a.x, a.out], params: { n: a.n, off }, workgroups: [1] });
}
