// nf4_codebook — LIBRARY, not a kernel: the NF4 and FP4 code values of the NF4 matmuls
// (matmul_gemv_nf4, matmul_gemm_nf4), prepended by the kernel table (src/gpu/kernel-table.ts).
// Uses the override CODEBOOK the kernel declares (0 NF4, 1 FP4).

// src/core/quant/nf4.ts NF4_CODE and FP4_CODE (the same decimals, so the same f32 values).
const NF4 = array<f32, 16>(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
);
const FP4 = array<f32, 16>(
  0.0, 5.208333333e-3, 0.66666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25,
  -0.0, -5.208333333e-3, -0.66666667, -1.0, -0.33333333, -0.5, -0.16666667, -0.25,
);

// The value of 4-bit code c in the CODEBOOK's table.
fn code_value(c: u32) -> f32 {
  if (CODEBOOK == 1u) {
    return FP4[c];
  }
  return NF4[c];
}
