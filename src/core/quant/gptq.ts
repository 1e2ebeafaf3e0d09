// GPTQ (Frantar et al. 2022) CPU reference: one linear layer W (rows = outputs, cols = inputs)
// quantized column by column with error feedback through the upper Cholesky factor of H⁻¹.
// Follows the reference implementation step for step (quantization.md), in float64.
import { NibbleError } from '../errors.ts';
import { upperCholeskyOfInverse } from './linalg.ts';
import { roundHalfEven } from './rounding.ts';

export interface GptqOptions {
  bits: number; // 2..8
  group: number; // inputs per group; 0 = per row
  sym: boolean;
  actOrder: boolean;
  staticGroups: boolean;
  damp: number; // fraction of mean(diag H) added to the diagonal (default 0.01)
  blockSize: number; // lazy batch width B (default 128)
}

export const GPTQ_DEFAULTS: GptqOptions = {
  bits: 4,
  group: 128,
  sym: false,
  actOrder: false,
  staticGroups: false,
  damp: 0.01,
  blockSize: 128,
};

export interface GptqResult {
  codes: Uint8Array; // (rows, cols) integer codes in [0, 2^bits)
  scales: Float32Array; // (rows, nGroups)
  zeros: Float32Array; // (rows, nGroups)
  gIdx: Int32Array; // (cols) group of each input column (non-monotonic with act-order)
  dequant: Float32Array; // (rows, cols) scale · (q − zero), in the original column order
  loss: number; // Σ (w − q)² / (2 U_ii²)
}

/** Running H = (2/n) Σ x xᵀ over calibration rows (each row one token's input to the layer). */
export class HessianAccumulator {
  readonly H: Float64Array; // (cols, cols)
  private n = 0;
  constructor(readonly cols: number) {
    this.H = new Float64Array(cols * cols);
  }
  get samples(): number {
    return this.n;
  }
  /** X (tokens, cols) row-major. */
  add(X: Float32Array, tokens: number): void {
    const c = this.cols;
    const H = this.H;
    const decay = this.n / (this.n + tokens);
    for (let i = 0; i < H.length; i++) H[i] *= decay;
    this.n += tokens;
    const f = 2 / this.n;
    for (let t = 0; t < tokens; t++) {
      const o = t * c;
      for (let i = 0; i < c; i++) {
        const xi = X[o + i] * f;
        if (xi === 0) continue;
        for (let j = 0; j < c; j++) H[i * c + j] += xi * X[o + j];
      }
    }
  }
}

/** Per-row (scale, zero) fitted on columns c0..c1 of W (rows, cols), the range always holding 0. */
export function fitUniformRows(
  W: Float64Array,
  rows: number,
  cols: number,
  c0: number,
  c1: number,
  bits: number,
  sym: boolean,
): { scale: Float64Array; zero: Float64Array } {
  const maxq = 2 ** bits - 1;
  const scale = new Float64Array(rows);
  const zero = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let xmin = 0;
    let xmax = 0;
    for (let c = c0; c < c1; c++) {
      const v = W[r * cols + c];
      if (v < xmin) xmin = v;
      if (v > xmax) xmax = v;
    }
    if (sym) {
      xmax = Math.max(-xmin, xmax);
      xmin = -xmax;
    }
    if (xmin === 0 && xmax === 0) {
      xmin = -1;
      xmax = 1;
    }
    scale[r] = (xmax - xmin) / maxq;
    zero[r] = sym ? (maxq + 1) / 2 : roundHalfEven(-xmin / scale[r]);
  }
  return { scale, zero };
}

const quantCode = (w: number, scale: number, zero: number, maxq: number): number =>
  Math.min(maxq, Math.max(0, roundHalfEven(w / scale) + zero));

export function gptqQuantize(
  Win: Float32Array,
  rows: number,
  cols: number,
  Hin: Float64Array,
  opts: GptqOptions,
): GptqResult {
  const { bits, sym, actOrder, staticGroups, damp, blockSize: B } = opts;
  if (!(bits >= 2 && bits <= 8)) throw new NibbleError('bad-argument', `GPTQ: bits must be 2..8, got ${bits}`);
  const G = opts.group > 0 ? opts.group : cols;
  const nGroups = Math.ceil(cols / G);
  const maxq = 2 ** bits - 1;
  const W = Float64Array.from(Win); // (rows, cols), permuted in place below
  const H = Float64Array.from(Hin); // (cols, cols)

  // Without groups the per-row grid is fitted once on the original W, before anything else.
  let grid = opts.group > 0 ? null : fitUniformRows(W, rows, cols, 0, cols, bits, sym);

  // Dead inputs: never active in calibration → no information, quantize them to zero.
  for (let i = 0; i < cols; i++) {
    if (H[i * cols + i] === 0) {
      H[i * cols + i] = 1;
      for (let r = 0; r < rows; r++) W[r * cols + i] = 0;
    }
  }
  const staticGrids =
    staticGroups && opts.group > 0
      ? Array.from({ length: nGroups }, (_, g) =>
          fitUniformRows(W, rows, cols, g * G, Math.min(cols, (g + 1) * G), bits, sym),
        )
      : null;

  // Act-order: process columns by decreasing Hessian diagonal.
  const perm = Int32Array.from({ length: cols }, (_, i) => i);
  if (actOrder) {
    const diag = Float64Array.from({ length: cols }, (_, i) => H[i * cols + i]);
    perm.sort((a, b) => diag[b] - diag[a] || a - b);
    permuteColumns(W, rows, cols, perm);
    permuteSymmetric(H, cols, perm);
  }

  let meanDiag = 0;
  for (let i = 0; i < cols; i++) meanDiag += H[i * cols + i];
  meanDiag /= cols;
  for (let i = 0; i < cols; i++) H[i * cols + i] += damp * meanDiag;
  const U = upperCholeskyOfInverse(H, cols); // (cols, cols) upper

  const codes = new Uint8Array(rows * cols); // permuted order until the end
  const qdeq = new Float64Array(rows * cols);
  const scales = new Float32Array(rows * nGroups);
  const zeros = new Float32Array(rows * nGroups);
  const gIdxPerm = new Int32Array(cols); // group of permuted column j
  let loss = 0;

  for (let i1 = 0; i1 < cols; i1 += B) {
    const i2 = Math.min(i1 + B, cols);
    const count = i2 - i1;
    const W1 = new Float64Array(rows * count); // working copy of the block
    for (let r = 0; r < rows; r++) for (let j = 0; j < count; j++) W1[r * count + j] = W[r * cols + i1 + j];
    const Err1 = new Float64Array(rows * count);
    for (let j = 0; j < count; j++) {
      const col = i1 + j;
      let g: number;
      if (staticGrids) {
        g = Math.floor(perm[col] / G);
        grid = staticGrids[g];
      } else if (opts.group > 0) {
        g = Math.floor(col / G);
        // Fit on W as it stood at the start of this block (the reference fits on the matrix, not W1).
        if (col % G === 0) grid = fitUniformRows(W, rows, cols, col, Math.min(cols, col + G), bits, sym);
      } else {
        g = 0;
      }
      gIdxPerm[col] = g;
      const d = U[col * cols + col];
      for (let r = 0; r < rows; r++) {
        scales[r * nGroups + g] = grid!.scale[r];
        zeros[r * nGroups + g] = grid!.zero[r];
        const w = W1[r * count + j];
        const q = quantCode(w, grid!.scale[r], grid!.zero[r], maxq);
        const wq = grid!.scale[r] * (q - grid!.zero[r]);
        codes[r * cols + col] = q;
        qdeq[r * cols + col] = wq;
        loss += ((w - wq) * (w - wq)) / (2 * d * d);
        const err = (w - wq) / d;
        Err1[r * count + j] = err;
        for (let k = j; k < count; k++) W1[r * count + k] -= err * U[col * cols + i1 + k];
      }
    }
    // Lazy batch update of everything right of the block: W[:, i2:] −= Err1 · U[i1:i2, i2:].
    for (let r = 0; r < rows; r++) {
      for (let k = i2; k < cols; k++) {
        let s = 0;
        for (let j = 0; j < count; j++) s += Err1[r * count + j] * U[(i1 + j) * cols + k];
        W[r * cols + k] -= s;
      }
    }
  }

  // Undo the permutation: column perm[j] of the original is permuted column j.
  const outCodes = new Uint8Array(rows * cols);
  const dequant = new Float32Array(rows * cols);
  const gIdx = new Int32Array(cols);
  for (let j = 0; j < cols; j++) {
    const c = perm[j];
    gIdx[c] = gIdxPerm[j];
    for (let r = 0; r < rows; r++) {
      outCodes[r * cols + c] = codes[r * cols + j];
      dequant[r * cols + c] = qdeq[r * cols + j];
    }
  }
  return { codes: outCodes, scales, zeros, gIdx, dequant, loss };
}

function permuteColumns(W: Float64Array, rows: number, cols: number, perm: Int32Array): void {
  const row = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) row[j] = W[r * cols + perm[j]];
    W.set(row, r * cols);
  }
}

function permuteSymmetric(H: Float64Array, n: number, perm: Int32Array): void {
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) P[i * n + j] = H[perm[i] * n + perm[j]];
  H.set(P);
}
