// Dense float64 linear algebra for GPTQ's CPU twin: Cholesky, triangular inverse, and the
// upper Cholesky factor of an inverse. Matrices are row-major n×n Float64Arrays.
import { NibbleError } from '../errors.ts';

/** In place: A (n, n) SPD → its lower Cholesky factor L (A = L Lᵀ); upper triangle zeroed. */
export function choleskyLower(A: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j];
    for (let k = 0; k < j; k++) d -= A[j * n + k] * A[j * n + k];
    if (!(d > 0))
      throw new NibbleError(
        'bad-argument',
        `Cholesky: matrix is not positive definite at column ${j} (pivot ${d}); raise the damping`,
      );
    const ljj = Math.sqrt(d);
    A[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= A[i * n + k] * A[j * n + k];
      A[i * n + j] = s / ljj;
    }
    for (let k = j + 1; k < n; k++) A[j * n + k] = 0;
  }
}

/** Inverse of a lower-triangular L (n, n), returned lower-triangular. */
export function invertLower(L: Float64Array, n: number): Float64Array {
  const X = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    X[j * n + j] = 1 / L[j * n + j];
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s += L[i * n + k] * X[k * n + j];
      X[i * n + j] = -s / L[i * n + i];
    }
  }
  return X;
}

/**
 * U = upper Cholesky factor of H⁻¹ (H⁻¹ = Uᵀ U), as the GPTQ reference computes it:
 * chol(H) → cholesky_inverse → chol(·, upper). H is consumed.
 */
export function upperCholeskyOfInverse(H: Float64Array, n: number): Float64Array {
  choleskyLower(H, n);
  const Li = invertLower(H, n);
  // H⁻¹ = (L Lᵀ)⁻¹ = Liᵀ Li
  const Hinv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += Li[k * n + i] * Li[k * n + j];
      Hinv[i * n + j] = s;
      Hinv[j * n + i] = s;
    }
  }
  choleskyLower(Hinv, n);
  // Transpose the lower factor in place into the upper one.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      Hinv[i * n + j] = Hinv[j * n + i];
      Hinv[j * n + i] = 0;
    }
  }
  return Hinv;
}
