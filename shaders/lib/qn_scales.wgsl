// qn_scales — LIBRARY, not a kernel: a group's scale and zero point for the packed uniform
// matmuls (matmul_gemv_qn, matmul_gemm_qn), prepended by the kernel table
// (src/gpu/kernel-table.ts). Uses what the kernel declares: the bindings `s` (scales: f32 words,
// or two f16 per word with SCALE_F16) and `z` (four u8 zero points per word, read with ASYM) and
// the overrides BITS, SCALE_F16 and ASYM. i = row · n_groups + group.

// Scale of group i.
fn scale_at(i: u32) -> f32 {
  if (SCALE_F16) {
    return unpack2x16float(s[i >> 1u])[i & 1u];
  }
  return bitcast<f32>(s[i]);
}

// Zero point of group i: z[i] with ASYM, 2^(BITS − 1) (symmetric) otherwise.
fn zero_at(i: u32) -> f32 {
  if (ASYM) {
    return f32((z[i >> 2u] >> (8u * (i & 3u))) & 255u);
  }
  return f32(1u << (BITS - 1u));
}
