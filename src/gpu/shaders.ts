// Every WGSL kernel, imported as a string. The only module that imports shaders/*.wgsl:
// Vite and Vitest handle `?raw`; the CLI runs through tsx with the `?raw` loader hook in bin/.
import add_f32 from '../../shaders/infer/add_f32.wgsl?raw';
import argmax_f32 from '../../shaders/infer/argmax_f32.wgsl?raw';
import attention_f32 from '../../shaders/infer/attention_f32.wgsl?raw';
import embed_f32 from '../../shaders/infer/embed_f32.wgsl?raw';
import matmul_gemm_f32 from '../../shaders/infer/matmul_gemm_f32.wgsl?raw';
import matmul_gemm_llmint8 from '../../shaders/infer/matmul_gemm_llmint8.wgsl?raw';
import matmul_gemm_nf4 from '../../shaders/infer/matmul_gemm_nf4.wgsl?raw';
import matmul_gemm_qn from '../../shaders/infer/matmul_gemm_qn.wgsl?raw';
import matmul_gemv_common from '../../shaders/lib/matmul_gemv_common.wgsl?raw';
import matmul_gemv_f32_body from '../../shaders/infer/matmul_gemv_f32.wgsl?raw';
import matmul_gemv_f32_sg from '../../shaders/infer/matmul_gemv_f32_sg.wgsl?raw';
import matmul_gemv_llmint8 from '../../shaders/infer/matmul_gemv_llmint8.wgsl?raw';
import matmul_gemv_nf4_body from '../../shaders/infer/matmul_gemv_nf4.wgsl?raw';
import matmul_gemv_qn_body from '../../shaders/infer/matmul_gemv_qn.wgsl?raw';
import matmul_prep_llmint8 from '../../shaders/infer/matmul_prep_llmint8.wgsl?raw';
import rmsnorm_f32 from '../../shaders/infer/rmsnorm_f32.wgsl?raw';
import rope_f32 from '../../shaders/infer/rope_f32.wgsl?raw';
import silu_mul_f32 from '../../shaders/infer/silu_mul_f32.wgsl?raw';
// Quantization suite (src/gpu/quant-*.ts): a separate table, so that KERNELS in pipelines.ts
// (typed over SHADERS) is untouched; quant_softfloat is a library prepended to some of them.
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
import quant_softfloat from '../../shaders/lib/quant_softfloat.wgsl?raw';

/** A kernel with the GEMV library (workgroup_sum, x_hat) in front of it. */
const withGemvCommon = (body: string): string => `${matmul_gemv_common}\n${body}`;
const matmul_gemv_f32 = withGemvCommon(matmul_gemv_f32_body);
const matmul_gemv_nf4 = withGemvCommon(matmul_gemv_nf4_body);
const matmul_gemv_qn = withGemvCommon(matmul_gemv_qn_body);

export const SHADERS = {
  add_f32,
  argmax_f32,
  attention_f32,
  embed_f32,
  matmul_gemm_f32,
  matmul_gemm_llmint8,
  matmul_gemm_nf4,
  matmul_gemm_qn,
  matmul_gemv_f32,
  matmul_gemv_f32_sg,
  matmul_gemv_llmint8,
  matmul_gemv_nf4,
  matmul_gemv_qn,
  matmul_prep_llmint8,
  rmsnorm_f32,
  rope_f32,
  silu_mul_f32,
} as const;

export type ShaderName = keyof typeof SHADERS;

export const QUANT_SHADERS = {
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
  histogram_codes,
  quant_absmax,
  quant_int8_rows,
  quant_nf4,
  quant_pack,
  quant_params,
  quant_range,
} as const;

export type QuantShaderName = keyof typeof QUANT_SHADERS;

/** WGSL functions prepended to the quant kernels that use them (not a kernel itself). */
export const QUANT_LIBRARY = quant_softfloat;
