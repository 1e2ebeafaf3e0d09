// One transformer block as a sequence of kernel dispatches, recorded into a Recorder: the WebGPU
// runner's decode and prefill steps (src/engine/gpu-runner.ts) and GPU calibration
// (src/engine/calibrate/) record the same sequence.
//   decode (fused, M = 1):  [RMSNorm → wqkv]  rope+KV  attention  [wo + residual]
//                           [RMSNorm → w13]  [SwiGLU → w2 + residual]          (6 dispatches)
//   prefill (M ≥ 1):        RMSNorm  wqkv  rope+KV  attention  wo+residual
//                           RMSNorm  w13  silu·mul  w2+residual                (9 dispatches)
// On the prefill path each linear's input is a whole activation buffer, rows 0..M − 1 at offset
// 0, which `observe` may read (calibration: Hessians, abs-max statistics) right after it is
// written; `until` ends the block there (the rest is not needed for that site's statistics).
import type { LinearInputSite } from '../core/model/forward.ts';
import * as k from './kernels.ts';
import type { GpuLayerWeights } from './model-weights.ts';
import type { Recorder } from './recorder.ts';

export interface BlockDims {
  dim: number;
  hidden: number;
  nHeads: number;
  nKv: number;
  hs: number; // head size (may differ from dim / nHeads)
  eps: number; // RMSNorm epsilon
  ropeStyle: 'interleaved' | 'half';
}

/** Activation buffers, each holding at least M rows of its width. */
export interface BlockActivations {
  x: GPUBuffer; // (M, dim) residual stream, updated in place
  xn: GPUBuffer; // (M, dim) normed (prefill)
  qkv: GPUBuffer; // (M, qDim + 2·kvDim)
  att: GPUBuffer; // (M, qDim)
  gu: GPUBuffer; // (M, 2·hidden) [gate | up]
  h: GPUBuffer; // (M, hidden) silu(gate)·up (prefill)
}

export interface BlockStep {
  M: number;
  pos0: number; // position of row 0
  kcache: GPUBuffer; // (≥ pos0 + M, nKv·hs)
  vcache: GPUBuffer;
  ropeTable: GPUBuffer; // (≥ pos0 + M, hs/2) (cos, sin)
  fused: boolean; // decode path (M = 1): RMSNorm / SwiGLU fused into the GEMVs; nothing observed
  matmul: (a: Omit<k.MatmulArgs, 'scratch'>) => void;
  /** Prefill path: called with each site's input buffer (M rows of that site's width at offset 0). */
  observe?: (site: LinearInputSite, x: GPUBuffer) => void;
  until?: LinearInputSite; // prefill path: stop after observing this site
}

/** Records block L on b.x (M rows) at positions pos0..; see the file comment. */
export function recordBlock(rec: Recorder, d: BlockDims, L: GpuLayerWeights, b: BlockActivations, s: BlockStep): void {
  const { M, matmul, fused } = s;
  const { dim, hs, eps } = d;
  const qDim = d.nHeads * hs;
  const kvd = d.nKv * hs;
  const qkvCols = qDim + 2 * kvd;
  const seen = (site: LinearInputSite, x: GPUBuffer): boolean => {
    s.observe?.(site, x);
    return s.until === site;
  };
  // attention block: x += wo · attention(rope(wqkv · rmsnorm(x)))
  if (fused) {
    matmul({ x: b.x, w: L.wqkv, out: b.qkv, M, prologue: { kind: 'rmsnorm', weight: L.rmsAtt, eps } });
  } else {
    k.rmsnorm(rec, { x: b.x, weight: L.rmsAtt, out: b.xn, M, dim, eps });
    if (seen('attn', b.xn)) return;
    matmul({ x: b.xn, w: L.wqkv, out: b.qkv, M });
  }
  k.rope(rec, {
    qkv: b.qkv,
    kcache: s.kcache,
    vcache: s.vcache,
    table: s.ropeTable,
    M,
    pos0: s.pos0,
    bias: L.bias,
    qkNorm: L.qkNorm && { weight: L.qkNorm, eps },
    nHeads: d.nHeads,
    nKv: d.nKv,
    hs,
    stride: qkvCols,
    kOff: qDim,
    vOff: qDim + kvd,
    style: d.ropeStyle,
  });
  k.attention(rec, {
    q: b.qkv,
    qStride: qkvCols,
    kcache: s.kcache,
    vcache: s.vcache,
    out: b.att,
    M,
    pos0: s.pos0,
    nHeads: d.nHeads,
    nKv: d.nKv,
    hs,
  });
  if (!fused && seen('wo', b.att)) return;
  matmul({ x: b.att, w: L.wo, out: b.x, M, accumulate: true });
  // feed-forward block: x += w2 · (silu(w1 · xn) ⊙ w3 · xn), xn = rmsnorm(x)
  if (fused) {
    matmul({ x: b.x, w: L.w13, out: b.gu, M, prologue: { kind: 'rmsnorm', weight: L.rmsFfn, eps } });
    matmul({ x: b.gu, w: L.w2, out: b.x, M, prologue: { kind: 'swiglu' }, accumulate: true });
    return;
  }
  k.rmsnorm(rec, { x: b.x, weight: L.rmsFfn, out: b.xn, M, dim, eps });
  if (seen('ffn', b.xn)) return;
  matmul({ x: b.xn, w: L.w13, out: b.gu, M });
  k.siluMul(rec, { gu: b.gu, out: b.h, M, H: d.hidden });
  if (seen('w2', b.h)) return;
  matmul({ x: b.h, w: L.w2, out: b.x, M, accumulate: true });
}
