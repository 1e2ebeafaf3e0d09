// GPTQ's linear algebra on the GPU, in f32: the Hessian accumulator (a GEMM over calibration
// rows) and U = upper Cholesky factor of Ĥ⁻¹, Ĥ = H with dead inputs fixed, damping and the
// act-order permutation. U is computed as U = J L⁻¹ J with J Ĥ J = L Lᵀ (J reverses indices):
// Ĥ = (J L J)(J L J)ᵀ with J L J upper triangular, so Ĥ⁻¹ = Uᵀ U with U = (J L J)⁻¹ = J L⁻¹ J,
// the same factor src/core/quant/linalg.ts upperCholeskyOfInverse gets through chol → inverse → chol,
// with one factorization and one triangular inverse instead of two of each plus a product.
//   cholesky_prep (gather, dead fix, damping) → per 32-column panel: cholesky_panel +
//   cholesky_update → cholesky_inverse_diag → cholesky_inverse_rows per block row →
//   cholesky_reverse.   Dispatches: 2·⌈n/32⌉ + ⌈n/32⌉ + 2 (about 3n/32).
import { NibbleError } from '../core/errors.ts';
import { createStorage, readBuffers, uploadStorage } from './buffers.ts';
import type { GpuContext } from './device.ts';
import { fail, groupsFor, holds, positive } from './checks.ts';
import type { Recorder } from './recorder.ts';

const NB = 32; // panel / block width of the cholesky_* kernels

/** H (K, K) = decay·H + f·XᵀX for X (T, K) read from element xOff (default 0) of x. */
export function hessianAccum(
  rec: Recorder,
  a: { x: GPUBuffer; xOff?: number; H: GPUBuffer; K: number; T: number; decay: number; f: number },
): void {
  const xOff = a.xOff ?? 0;
  positive('hessianAccum', ['K', a.K], ['T', a.T]);
  holds('hessianAccum x', a.x, xOff + a.T * a.K);
  holds('hessianAccum H', a.H, a.K * a.K);
  const t = Math.ceil(a.K / 32);
  rec.dispatch('hessian_accum', {
    buffers: [a.x, a.H],
    params: { K: a.K, T: a.T, x_off: xOff, decay: a.decay, f: a.f },
    workgroups: [t, t],
  });
}

export interface CholeskyArgs {
  H: GPUBuffer; // (n, n) Hessian (dead inputs have H[c, c] = 0)
  q: GPUBuffer; // (n) u32: source index of each row / column of the factored matrix
  A: GPUBuffer; // (n, n) scratch: Ĥ gathered, then L; finally U (written by cholesky_reverse)
  X: GPUBuffer; // (n, n) scratch for L⁻¹, zeroed before recording
  ld: GPUBuffer; // (⌈n / 32⌉ · 32 · 32) scratch: L's diagonal blocks
  status: GPUBuffer; // ≥ 1 word, zeroed: first non-positive pivot + 1
  n: number;
  damp: number; // added to every diagonal entry (after the dead-input fix)
}

/** Words of the `ld` scratch for an n×n factorization. */
export const choleskyScratchWords = (n: number): number => Math.ceil(n / NB) * NB * NB;

/** Records Ĥ → U (into A); see the file comment. */
export function choleskyInverseUpper(rec: Recorder, a: CholeskyArgs): void {
  const { n } = a;
  positive('choleskyInverseUpper', ['n', n]);
  if (!(a.damp >= 0) || !Number.isFinite(a.damp))
    fail(`choleskyInverseUpper: damping ${a.damp} must be finite and ≥ 0`);
  if (a.H === a.A || a.A === a.X) fail('choleskyInverseUpper: H, A and X must be different buffers');
  for (const [name, b] of [
    ['H', a.H],
    ['A', a.A],
    ['X', a.X],
  ] as const)
    holds(`choleskyInverseUpper ${name}`, b, n * n);
  holds('choleskyInverseUpper q', a.q, n);
  holds('choleskyInverseUpper ld', a.ld, choleskyScratchWords(n));
  holds('choleskyInverseUpper status', a.status, 1);
  rec.dispatch('cholesky_prep', {
    buffers: [a.H, a.q, a.A],
    params: { n, damp: a.damp },
    workgroups: groupsFor(rec, n * n),
  });
  for (let k0 = 0; k0 < n; k0 += NB) {
    const below = n - k0 - NB;
    rec.dispatch('cholesky_panel', {
      buffers: [a.A, a.ld, a.status],
      params: { n, k0 },
      workgroups: [Math.max(1, Math.ceil(below / 64))],
    });
    if (below > 0) {
      const t = Math.ceil(below / NB);
      rec.dispatch('cholesky_update', { buffers: [a.A], params: { n, k0 }, workgroups: [t, t] });
    }
  }
  const blocks = Math.ceil(n / NB);
  rec.dispatch('cholesky_inverse_diag', { buffers: [a.ld, a.X], params: { n }, workgroups: [blocks] });
  for (let bi = 1; bi < blocks; bi++)
    rec.dispatch('cholesky_inverse_rows', { buffers: [a.A, a.X], params: { n, bi }, workgroups: [bi] });
  rec.dispatch('cholesky_reverse', { buffers: [a.X, a.A], params: { n }, workgroups: groupsFor(rec, n * n) });
}

/** Throws the CPU twin's error when the factorization met a non-positive pivot. */
export function checkPivot(status: number): void {
  if (status !== 0) {
    throw new NibbleError(
      'bad-argument',
      `Cholesky: matrix is not positive definite at column ${status - 1} (f32, GPU); raise the damping`,
    );
  }
}

/**
 * Running H = (2/n) Σ x xᵀ over calibration rows on the GPU: the twin of HessianAccumulator.
 * add() records and submits one GEMM dispatch; read() returns H as f64 (from f32).
 */
export class GpuHessian {
  readonly buffer: GPUBuffer; // (cols, cols) f32
  private n = 0;

  constructor(
    readonly ctx: GpuContext,
    private readonly rec: Recorder,
    readonly cols: number,
  ) {
    positive('GpuHessian', ['cols', cols]);
    this.buffer = createStorage(ctx, cols * cols * 4, 'hessian');
  }

  get samples(): number {
    return this.n;
  }

  /** X (tokens, cols) row-major. tokens = 0 is a no-op. */
  add(X: Float32Array, tokens: number): void {
    if (!Number.isInteger(tokens) || tokens < 0 || X.length < tokens * this.cols) {
      fail(`GpuHessian.add: ${X.length} values for ${tokens} tokens of ${this.cols}`);
    }
    if (tokens === 0) return;
    const x = uploadStorage(this.ctx, X.subarray(0, tokens * this.cols), 'hessian-x');
    const decay = this.n / (this.n + tokens);
    this.n += tokens;
    hessianAccum(this.rec, { x, H: this.buffer, K: this.cols, T: tokens, decay, f: 2 / this.n });
    this.rec.submit();
    x.destroy(); // freed once the submitted work is done
  }

  /**
   * Records (no submit) the accumulation of rows (rows, cols) that a GPU pass leaves in buffer x
   * from element xOff: no upload, no readback. The caller submits rec (before gptq reads H).
   */
  record(rec: Recorder, x: GPUBuffer, xOff: number, rows: number): void {
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(xOff) || xOff < 0)
      fail(`GpuHessian.record: ${rows} rows at offset ${xOff}`);
    if (rows === 0) return;
    const decay = this.n / (this.n + rows);
    this.n += rows;
    hessianAccum(rec, { x, xOff, H: this.buffer, K: this.cols, T: rows, decay, f: 2 / this.n });
  }

  /** H (cols, cols) as float64 (values are f32). */
  async read(): Promise<Float64Array> {
    const [h] = await readBuffers(this.ctx, [[this.buffer, this.cols * this.cols]]);
    return Float64Array.from(new Float32Array(h.buffer));
  }

  /** diag(H) (cols), read with one 4-byte copy per entry. */
  async diag(): Promise<Float32Array> {
    const c = this.cols;
    const parts = Array.from({ length: c }, (_, i) => [this.buffer, 1, i * c + i] as const);
    const words = await readBuffers(this.ctx, parts);
    return Float32Array.from(words, (w) => new Float32Array(w.buffer)[0]);
  }

  destroy(): void {
    this.buffer.destroy();
  }
}

/**
 * U (n, n) = upper Cholesky factor of (H + damp·I)⁻¹ on the GPU, for a symmetric H given on the
 * CPU (no permutation; dead inputs fixed as GPTQ does). For tests and tools.
 */
export async function upperCholeskyOfInverseGpu(
  ctx: GpuContext,
  rec: Recorder,
  H: ArrayLike<number>,
  n: number,
  damp = 0,
): Promise<Float32Array> {
  if (H.length !== n * n) fail(`upperCholeskyOfInverseGpu: ${H.length} values for ${n}×${n}`);
  const identity = Uint32Array.from({ length: n }, (_, i) => n - 1 - i);
  const bufs = {
    H: uploadStorage(ctx, Float32Array.from(H), 'chol-H'),
    q: uploadStorage(ctx, identity, 'chol-q'),
    A: createStorage(ctx, n * n * 4, 'chol-A'),
    X: createStorage(ctx, n * n * 4, 'chol-X'),
    ld: createStorage(ctx, choleskyScratchWords(n) * 4, 'chol-ld'),
    status: createStorage(ctx, 4, 'chol-status'),
  };
  try {
    choleskyInverseUpper(rec, { ...bufs, n, damp });
    rec.submit();
    const [u, st] = await readBuffers(ctx, [
      [bufs.A, n * n],
      [bufs.status, 1],
    ]);
    checkPivot(st[0]);
    return new Float32Array(u.buffer);
  } finally {
    Object.values(bufs).forEach((b) => b.destroy());
  }
}
