// Every WGSL file, imported as a string: the only module that imports shaders/**/*.wgsl (Vite and
// Vitest handle `?raw`; the CLI runs through tsx with the `?raw` loader hook in bin/). Which
// kernel uses which file and which libraries is the kernel table (src/gpu/kernel-table.ts).
import argmax_f32 from '../../shaders/infer/argmax_f32.wgsl?raw';
import attention_f32 from '../../shaders/infer/attention_f32.wgsl?raw';
import embed_f16 from '../../shaders/infer/embed_f16.wgsl?raw';
import embed_f32 from '../../shaders/infer/embed_f32.wgsl?raw';
import embed_qn from '../../shaders/infer/embed_qn.wgsl?raw';
import matmul_gemm_f16 from '../../shaders/infer/matmul_gemm_f16.wgsl?raw';
import matmul_gemm_f32 from '../../shaders/infer/matmul_gemm_f32.wgsl?raw';
import matmul_gemm_llmint8 from '../../shaders/infer/matmul_gemm_llmint8.wgsl?raw';
import matmul_gemm_nf4 from '../../shaders/infer/matmul_gemm_nf4.wgsl?raw';
import matmul_gemm_qn from '../../shaders/infer/matmul_gemm_qn.wgsl?raw';
import matmul_gemv_f16 from '../../shaders/infer/matmul_gemv_f16.wgsl?raw';
import matmul_gemv_f32 from '../../shaders/infer/matmul_gemv_f32.wgsl?raw';
import matmul_gemv_f32_sg from '../../shaders/infer/matmul_gemv_f32_sg.wgsl?raw';
import matmul_gemv_llmint8 from '../../shaders/infer/matmul_gemv_llmint8.wgsl?raw';
import matmul_gemv_nf4 from '../../shaders/infer/matmul_gemv_nf4.wgsl?raw';
import matmul_gemv_qn from '../../shaders/infer/matmul_gemv_qn.wgsl?raw';
import matmul_prep_llmint8 from '../../shaders/infer/matmul_prep_llmint8.wgsl?raw';
import rmsnorm_f32 from '../../shaders/infer/rmsnorm_f32.wgsl?raw';
import rope_f32 from '../../shaders/infer/rope_f32.wgsl?raw';
import silu_mul_f32 from '../../shaders/infer/silu_mul_f32.wgsl?raw';
import absmax_cols from '../../shaders/quant/absmax_cols.wgsl?raw';
import cholesky_inverse_diag from '../../shaders/quant/cholesky_inverse_diag.wgsl?raw';
import cholesky_inverse_rows from '../../shaders/quant/cholesky_inverse_rows.wgsl?raw';
import cholesky_panel from '../../shaders/quant/cholesky_panel.wgsl?raw';
import cholesky_prep from '../../shaders/quant/cholesky_prep.wgsl?raw';
import cholesky_reverse from '../../shaders/quant/cholesky_reverse.wgsl?raw';
import cholesky_update from '../../shaders/quant/cholesky_update.wgsl?raw';
import float_round from '../../shaders/quant/float_round.wgsl?raw';
import float_trunc from '../../shaders/quant/float_trunc.wgsl?raw';
import gptq_block from '../../shaders/quant/gptq_block.wgsl?raw';
import gptq_fit from '../../shaders/quant/gptq_fit.wgsl?raw';
import gptq_update from '../../shaders/quant/gptq_update.wgsl?raw';
import hessian_accum from '../../shaders/quant/hessian_accum.wgsl?raw';
import histogram_codes from '../../shaders/quant/histogram_codes.wgsl?raw';
import quant_absmax from '../../shaders/quant/quant_absmax.wgsl?raw';
import quant_int8_rows from '../../shaders/quant/quant_int8_rows.wgsl?raw';
import quant_nf4 from '../../shaders/quant/quant_nf4.wgsl?raw';
import quant_pack from '../../shaders/quant/quant_pack.wgsl?raw';
import quant_params from '../../shaders/quant/quant_params.wgsl?raw';
import quant_range from '../../shaders/quant/quant_range.wgsl?raw';
import copy_stream from '../../shaders/bench/copy_stream.wgsl?raw';
import lib_gemm_tile from '../../shaders/lib/gemm_tile.wgsl?raw';
import lib_gemv_lanes from '../../shaders/lib/gemv_lanes.wgsl?raw';
import lib_int8_round from '../../shaders/lib/int8_round.wgsl?raw';
import lib_matmul_prologue from '../../shaders/lib/matmul_prologue.wgsl?raw';
import lib_nf4_codebook from '../../shaders/lib/nf4_codebook.wgsl?raw';
import lib_embed_rows from '../../shaders/lib/embed_rows.wgsl?raw';
import lib_per_item from '../../shaders/lib/per_item.wgsl?raw';
import lib_qn_code from '../../shaders/lib/qn_code.wgsl?raw';
import lib_qn_scales from '../../shaders/lib/qn_scales.wgsl?raw';
import lib_quant_softfloat from '../../shaders/lib/quant_softfloat.wgsl?raw';
import lib_workgroup_reduce from '../../shaders/lib/workgroup_reduce.wgsl?raw';

/** Kernel sources (shaders/infer, shaders/quant, shaders/bench), by file name without .wgsl. */
export const SHADERS = {
  argmax_f32,
  attention_f32,
  embed_f16,
  embed_f32,
  embed_qn,
  matmul_gemm_f16,
  matmul_gemm_f32,
  matmul_gemm_llmint8,
  matmul_gemm_nf4,
  matmul_gemm_qn,
  matmul_gemv_f16,
  matmul_gemv_f32,
  matmul_gemv_f32_sg,
  matmul_gemv_llmint8,
  matmul_gemv_nf4,
  matmul_gemv_qn,
  matmul_prep_llmint8,
  rmsnorm_f32,
  rope_f32,
  silu_mul_f32,
  cholesky_inverse_diag,
  cholesky_inverse_rows,
  cholesky_panel,
  cholesky_prep,
  cholesky_reverse,
  cholesky_update,
  float_round,
  float_trunc,
  gptq_block,
  gptq_fit,
  gptq_update,
  hessian_accum,
  absmax_cols,
  histogram_codes,
  quant_absmax,
  quant_int8_rows,
  quant_nf4,
  quant_pack,
  quant_params,
  quant_range,
  copy_stream,
} as const;

export type ShaderFile = keyof typeof SHADERS;

/** WGSL libraries (shaders/lib): functions a kernel calls, prepended to it; never a kernel themselves. */
export const LIBRARIES = {
  gemm_tile: lib_gemm_tile,
  gemv_lanes: lib_gemv_lanes,
  int8_round: lib_int8_round,
  matmul_prologue: lib_matmul_prologue,
  nf4_codebook: lib_nf4_codebook,
  embed_rows: lib_embed_rows,
  per_item: lib_per_item,
  qn_code: lib_qn_code,
  qn_scales: lib_qn_scales,
  quant_softfloat: lib_quant_softfloat,
  workgroup_reduce: lib_workgroup_reduce,
} as const;

export type LibraryName = keyof typeof LIBRARIES;
