// Scalar rounding used by every quantizer twin. WGSL `round()` and PyTorch `torch.round` round
// half to even; C `roundf` (used by GGUF Q8_0) rounds half away from zero; JS `Math.round`
// rounds half towards +∞ and is never used for quantization.

/** Nearest integer, ties to the even neighbour (WGSL `round`, `torch.round`): 0.5 → 0, 1.5 → 2, −2.5 → −2. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f; // exact wherever a tie is possible (|x| < 2^52)
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Nearest integer, ties away from zero (C `roundf`): 0.5 → 1, −2.5 → −3. */
export function roundHalfAway(x: number): number {
  const t = Math.trunc(x);
  const d = x - t; // exact: x and trunc(x) share sign and binade or t == 0
  return Math.abs(d) >= 0.5 ? t + Math.sign(x) : t;
}

/** C `roundf` under its usual name. */
export const roundf = roundHalfAway;

/** Clamps x into [lo, hi] (NaN stays NaN). */
export const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
