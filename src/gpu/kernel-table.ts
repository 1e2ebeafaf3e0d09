// The kernel table: every kernel nibble dispatches (inference, quantization, the bench's
// bandwidth reference), one row each. A row names its WGSL file, the libraries prepended to it
// (shaders/lib, in order), the `override` constants a variant may set, and its bindings:
// binding 0 is the params uniform (a PARAM_BYTES slot at a dynamic offset in the recorder's
// params arena), then `buffers` as storage bindings 1..n. The pipeline cache (pipelines.ts) and
// the recorder (recorder.ts) read nothing else.
import type { LibraryName, ShaderFile } from './shaders.ts';

/** Storage access of a buffer binding: read-only or read-write. */
export type Access = 'read' | 'rw';

export interface KernelSpec {
  file: ShaderFile; // shaders/<infer|quant|bench>/<file>.wgsl
  libs?: readonly LibraryName[]; // shaders/lib files prepended, in this order
  constants?: readonly string[]; // WGSL `override` names a dispatch may set
  buffers: readonly Access[]; // bindings 1..n
  params: readonly string[]; // WGSL Params fields in order: 'name' u32, 'name:f32', 'name:i32'
}

/** Bytes of one params slot bound per dispatch; every Params struct must fit. */
export const PARAM_BYTES = 64;

const GEMV = ['matmul_prologue', 'workgroup_reduce'] as const;
const GEMV_QUANT = ['WG', 'TC', 'PROLOGUE', 'ACCUMULATE', 'RPT'] as const;
const R = 'read';
const RW = 'rw';

export const KERNELS = {
  // ---- inference (src/gpu/kernels.ts, src/gpu/matmul-quant.ts) ----
  embed_f32: { file: 'embed_f32', buffers: [R, R, RW], params: ['M', 'dim', 'vocab', 'tok_off', 'row0', 'rows'] },
  rmsnorm_f32: { file: 'rmsnorm_f32', buffers: [R, R, RW], params: ['M', 'dim', 'eps:f32'] },
  matmul_gemv_f32: {
    file: 'matmul_gemv_f32',
    libs: GEMV,
    constants: ['WG', 'PROLOGUE', 'ACCUMULATE'],
    buffers: [R, R, R, RW],
    params: ['K', 'N', 'x_off', 'eps:f32', 'n_off'],
  },
  matmul_gemv_f32_sg: {
    file: 'matmul_gemv_f32_sg',
    libs: ['matmul_prologue'],
    constants: ['WG', 'PROLOGUE', 'ACCUMULATE', 'MAX_SUBGROUPS'],
    buffers: [R, R, R, RW],
    params: ['K', 'N', 'x_off', 'eps:f32', 'n_off'],
  },
  matmul_gemm_f32: {
    file: 'matmul_gemm_f32',
    libs: ['gemm_tile'],
    constants: ['ACCUMULATE'],
    buffers: [R, R, RW],
    params: ['M', 'N', 'K', 'n_off', 'ldo'],
  },
  // Packed quantized weights (layouts in each shader's header).
  matmul_gemv_qn: {
    file: 'matmul_gemv_qn',
    libs: GEMV,
    constants: [...GEMV_QUANT, 'BITS', 'SCALE_F16', 'ASYM', 'GIDX', 'CV', 'CW'],
    buffers: [R, R, R, R, R, R, RW],
    params: ['K', 'N', 'x_off', 'eps:f32', 'group', 'n_groups', 'wpr', 'n_off'],
  },
  matmul_gemm_qn: {
    file: 'matmul_gemm_qn',
    libs: ['gemm_tile'],
    constants: ['ACCUMULATE', 'BITS', 'SCALE_F16', 'ASYM', 'GIDX'],
    buffers: [R, R, R, R, R, RW],
    params: ['M', 'N', 'K', 'group', 'n_groups', 'wpr', 'n_off', 'ldo'],
  },
  matmul_gemv_nf4: {
    file: 'matmul_gemv_nf4',
    libs: GEMV,
    constants: [...GEMV_QUANT, 'CODEBOOK'],
    buffers: [R, R, R, R, RW],
    params: ['K', 'N', 'x_off', 'eps:f32', 'block', 'n_off'],
  },
  matmul_gemm_nf4: {
    file: 'matmul_gemm_nf4',
    libs: ['gemm_tile'],
    constants: ['ACCUMULATE', 'CODEBOOK'],
    buffers: [R, R, R, RW],
    params: ['M', 'N', 'K', 'block', 'n_off', 'ldo'],
  },
  matmul_gemv_llmint8: {
    file: 'matmul_gemv_llmint8',
    libs: [...GEMV, 'int8_round'],
    constants: GEMV_QUANT,
    buffers: [R, R, R, R, RW],
    params: ['K', 'N', 'x_off', 'eps:f32', 'wpr', 'n_off', 'thr:f32', 'outliers'],
  },
  matmul_prep_llmint8: {
    file: 'matmul_prep_llmint8',
    libs: ['int8_round'],
    buffers: [R, RW],
    params: ['M', 'K', 'wpr', 'thr:f32', 'outliers', 'mask_off', 'sx_off', 'xq_off'],
  },
  matmul_gemm_llmint8: {
    file: 'matmul_gemm_llmint8',
    constants: ['ACCUMULATE'],
    buffers: [R, R, R, R, RW],
    params: ['M', 'N', 'K', 'wpr', 'n_off', 'ldo', 'mask_off', 'sx_off', 'xq_off'],
  },
  rope_f32: {
    file: 'rope_f32',
    constants: ['BIAS'],
    buffers: [RW, RW, RW, R, R], // + bias (override BIAS)
    params: ['M', 'pos0', 'n_heads', 'n_kv', 'hs', 'stride', 'k_off', 'v_off', 'style'],
  },
  attention_f32: {
    file: 'attention_f32',
    buffers: [R, R, R, RW],
    params: ['M', 'pos0', 'n_heads', 'n_kv', 'hs', 'q_stride', 'scale:f32'],
  },
  silu_mul_f32: { file: 'silu_mul_f32', buffers: [R, RW], params: ['M', 'H'] },
  argmax_f32: { file: 'argmax_f32', buffers: [R, RW], params: ['n', 'off'] },

  // ---- quantization (src/gpu/quant-*.ts); quant_softfloat: bit-exact integer float arithmetic ----
  quant_range: { file: 'quant_range', buffers: [R, RW, RW], params: ['rows', 'cols', 'G', 'n_groups'] },
  quant_params: {
    file: 'quant_params',
    libs: ['quant_softfloat'],
    buffers: [R, RW, RW, RW],
    params: ['n', 'bits', 'sym', 'f16', 'write_zeros', 'tensor'],
  },
  quant_pack: {
    file: 'quant_pack',
    libs: ['quant_softfloat'],
    constants: ['BITS'],
    buffers: [R, R, R, RW],
    params: ['rows', 'cols', 'G', 'n_groups', 'wpr', 'units', 'bits', 'f16', 'has_zeros'],
  },
  quant_int8_rows: {
    file: 'quant_int8_rows',
    libs: ['quant_softfloat'],
    buffers: [R, RW, RW, RW],
    params: ['rows', 'cols', 'wpr'],
  },
  quant_absmax: { file: 'quant_absmax', buffers: [R, RW, RW], params: ['n', 'B', 'n_blocks'] },
  quant_nf4: {
    file: 'quant_nf4',
    libs: ['quant_softfloat'],
    constants: ['FP4'],
    buffers: [R, R, RW],
    params: ['n', 'B', 'n_words'],
  },
  float_round: {
    file: 'float_round',
    libs: ['quant_softfloat'],
    buffers: [R, RW],
    params: ['n', 'mb', 'emin:i32', 'max_bits', 'overflow'],
  },
  float_trunc: { file: 'float_trunc', buffers: [R, RW], params: ['n', 'k', 'mode'] },
  histogram_codes: {
    file: 'histogram_codes',
    libs: ['quant_softfloat'],
    constants: ['BITS'],
    buffers: [R, R, R, R, R, RW],
    params: ['rows', 'cols', 'wpr', 'G', 'n_groups', 'bits', 'has_w', 'has_gidx'],
  },
  hessian_accum: { file: 'hessian_accum', buffers: [R, RW], params: ['K', 'T', 'decay:f32', 'f:f32'] },
  cholesky_prep: { file: 'cholesky_prep', buffers: [R, R, RW], params: ['n', 'damp:f32'] },
  cholesky_panel: { file: 'cholesky_panel', buffers: [RW, RW, RW], params: ['n', 'k0'] },
  cholesky_update: { file: 'cholesky_update', buffers: [RW], params: ['n', 'k0'] },
  cholesky_inverse_diag: { file: 'cholesky_inverse_diag', buffers: [R, RW], params: ['n'] },
  cholesky_inverse_rows: { file: 'cholesky_inverse_rows', buffers: [R, RW], params: ['n', 'bi'] },
  cholesky_reverse: { file: 'cholesky_reverse', buffers: [R, RW], params: ['n'] },
  gptq_fit: {
    file: 'gptq_fit',
    buffers: [R, RW],
    params: ['rows', 'cols', 'G', 'n_groups', 'g0', 'ng', 'maxq', 'sym'],
  },
  gptq_block: {
    file: 'gptq_block',
    buffers: [R, R, R, R, RW, RW, RW],
    params: ['rows', 'cols', 's1', 'cnt', 'n_groups', 'maxq'],
  },
  gptq_update: { file: 'gptq_update', buffers: [R, R, RW], params: ['rows', 'cols', 's1', 'cnt'] },

  // ---- the bench's bandwidth reference (src/cli/bench-matmul.ts) ----
  copy_stream: { file: 'copy_stream', constants: ['WG', 'MODE'], buffers: [R, RW], params: ['n_vec', 'magic'] },
} as const satisfies Record<string, KernelSpec>;

export type KernelName = keyof typeof KERNELS;

/** The row of `kernel`, widened to KernelSpec (optional fields readable). */
export const kernelSpec = (kernel: KernelName): KernelSpec => KERNELS[kernel];

/** Pipeline-overridable constants of one variant (WGSL `override`); booleans as 0 / 1. */
export type Constants = Readonly<Record<string, number>>;
