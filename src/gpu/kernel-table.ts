// The kernel table: every kernel nibble dispatches (inference, quantization, the bench's
// bandwidth reference), one row each, and the one place a kernel's interface is declared. A row
// names its WGSL file, the libraries prepended to it (shaders/lib, in order), the `override`
// constants a variant may set, and its bindings: binding 0 is the params uniform `p` (a
// PARAM_BYTES slot at a dynamic offset in the recorder's params arena) whose `struct Params`
// fields are `params`, then `buffers` as storage bindings 1..n. The pipeline cache
// (pipelines.ts) writes the WGSL declarations of all of them ahead of the libraries and the
// file, so a .wgsl file declares none of them; it and the recorder (recorder.ts) read nothing else.
import type { LibraryName, ShaderFile } from './shaders.ts';

/** Storage access of a buffer binding: read-only or read-write. */
export type Access = 'read' | 'rw';

/** A storage binding as `<access> <WGSL name>: <WGSL type>`, e.g. 'read x: array<f32>'. */
export type Binding = `${Access} ${string}: ${string}`;

export interface KernelSpec {
  file: ShaderFile; // shaders/<infer|quant|bench>/<file>.wgsl
  libs?: readonly LibraryName[]; // shaders/lib files prepended, in this order
  constants?: readonly string[]; // WGSL `override` names a dispatch may set
  buffers: readonly Binding[]; // bindings 1..n
  params: readonly string[]; // WGSL Params fields in order: 'name' u32, 'name:f32', 'name:i32'
}

/** Bytes of one params slot bound per dispatch; every Params struct must fit. */
export const PARAM_BYTES = 64;

const GEMV = ['matmul_prologue', 'workgroup_reduce'] as const;
const GEMV_QUANT = ['WG', 'TC', 'PROLOGUE', 'ACCUMULATE', 'RPT'] as const;

export const KERNELS = {
  // ---- inference (src/gpu/kernels.ts, src/gpu/matmul-quant.ts) ----
  embed_f32: {
    file: 'embed_f32',
    libs: ['per_item', 'embed_rows'],
    buffers: ['read tokens: array<u32>', 'read table: array<f32>', 'rw out: array<f32>'],
    params: ['M', 'dim', 'vocab', 'tok_off', 'row0', 'rows'],
  },
  rmsnorm_f32: {
    file: 'rmsnorm_f32',
    libs: ['workgroup_reduce'],
    buffers: ['read x: array<f32>', 'read weight: array<f32>', 'rw out: array<f32>'],
    params: ['M', 'dim', 'eps:f32'],
  },
  matmul_gemv_f32: {
    file: 'matmul_gemv_f32',
    libs: GEMV,
    constants: ['WG', 'PROLOGUE', 'ACCUMULATE'],
    buffers: ['read w: array<f32>', 'read x: array<f32>', 'read g: array<f32>', 'rw out: array<f32>'],
    params: ['K', 'N', 'x_off', 'eps:f32', 'n_off'],
  },
  matmul_gemv_f32_sg: {
    file: 'matmul_gemv_f32_sg',
    libs: ['matmul_prologue'],
    constants: ['WG', 'PROLOGUE', 'ACCUMULATE', 'MAX_SUBGROUPS'],
    buffers: ['read w: array<f32>', 'read x: array<f32>', 'read g: array<f32>', 'rw out: array<f32>'],
    params: ['K', 'N', 'x_off', 'eps:f32', 'n_off'],
  },
  matmul_gemm_f32: {
    file: 'matmul_gemm_f32',
    libs: ['gemm_tile'],
    constants: ['ACCUMULATE'],
    buffers: ['read x: array<f32>', 'read w: array<f32>', 'rw out: array<f32>'],
    params: ['M', 'N', 'K', 'n_off', 'ldo'],
  },
  // Packed quantized weights (layouts in each shader's header).
  matmul_gemv_qn: {
    file: 'matmul_gemv_qn',
    libs: [...GEMV, 'gemv_lanes', 'qn_scales'],
    constants: [...GEMV_QUANT, 'BITS', 'SCALE_F16', 'ASYM', 'GIDX', 'CV', 'CW'],
    buffers: [
      'read q: array<u32>',
      'read s: array<u32>',
      'read z: array<u32>',
      'read gidx: array<u32>',
      'read x: array<f32>',
      'read g: array<f32>',
      'rw out: array<f32>',
    ],
    params: ['K', 'N', 'x_off', 'eps:f32', 'group', 'n_groups', 'wpr', 'n_off'],
  },
  matmul_gemm_qn: {
    file: 'matmul_gemm_qn',
    libs: ['gemm_tile', 'qn_code', 'qn_scales'],
    constants: ['ACCUMULATE', 'BITS', 'SCALE_F16', 'ASYM', 'GIDX'],
    buffers: [
      'read x: array<f32>',
      'read q: array<u32>',
      'read s: array<u32>',
      'read z: array<u32>',
      'read gidx: array<u32>',
      'rw out: array<f32>',
    ],
    params: ['M', 'N', 'K', 'group', 'n_groups', 'wpr', 'n_off', 'ldo'],
  },
  matmul_gemv_nf4: {
    file: 'matmul_gemv_nf4',
    libs: [...GEMV, 'gemv_lanes', 'nf4_codebook'],
    constants: [...GEMV_QUANT, 'CODEBOOK'],
    buffers: [
      'read q: array<u32>',
      'read absmax: array<f32>',
      'read x: array<f32>',
      'read g: array<f32>',
      'rw out: array<f32>',
    ],
    params: ['K', 'N', 'x_off', 'eps:f32', 'block', 'n_off'],
  },
  matmul_gemm_nf4: {
    file: 'matmul_gemm_nf4',
    libs: ['gemm_tile', 'nf4_codebook'],
    constants: ['ACCUMULATE', 'CODEBOOK'],
    buffers: ['read x: array<f32>', 'read q: array<u32>', 'read absmax: array<f32>', 'rw out: array<f32>'],
    params: ['M', 'N', 'K', 'block', 'n_off', 'ldo'],
  },
  matmul_gemv_llmint8: {
    file: 'matmul_gemv_llmint8',
    libs: [...GEMV, 'int8_round'],
    constants: GEMV_QUANT,
    buffers: [
      'read q: array<u32>',
      'read sw: array<f32>',
      'read x: array<f32>',
      'read g: array<f32>',
      'rw out: array<f32>',
    ],
    params: ['K', 'N', 'x_off', 'eps:f32', 'wpr', 'n_off', 'thr:f32', 'outliers'],
  },
  matmul_prep_llmint8: {
    file: 'matmul_prep_llmint8',
    libs: ['int8_round', 'workgroup_reduce'],
    buffers: ['read x: array<f32>', 'rw scratch: array<u32>'],
    params: ['M', 'K', 'wpr', 'thr:f32', 'outliers', 'mask_off', 'sx_off', 'xq_off'],
  },
  matmul_gemm_llmint8: {
    file: 'matmul_gemm_llmint8',
    constants: ['ACCUMULATE'],
    buffers: [
      'read x: array<f32>',
      'read scratch: array<u32>',
      'read q: array<u32>',
      'read sw: array<f32>',
      'rw out: array<f32>',
    ],
    params: ['M', 'N', 'K', 'wpr', 'n_off', 'ldo', 'mask_off', 'sx_off', 'xq_off'],
  },
  rope_f32: {
    file: 'rope_f32',
    libs: ['workgroup_reduce'],
    constants: ['BIAS', 'QK_NORM', 'WG'],
    buffers: [
      'rw qkv: array<f32>',
      'rw kcache: array<f32>',
      'rw vcache: array<f32>',
      'read cs: array<vec2<f32>>',
      'read bias: array<f32>', // read with override BIAS
      'read qk_norm: array<f32>', // read with override QK_NORM
    ],
    params: ['M', 'pos0', 'n_heads', 'n_kv', 'hs', 'stride', 'k_off', 'v_off', 'style', 'eps:f32'],
  },
  attention_f32: {
    file: 'attention_f32',
    buffers: ['read q: array<f32>', 'read kcache: array<f32>', 'read vcache: array<f32>', 'rw out: array<f32>'],
    params: ['M', 'pos0', 'n_heads', 'n_kv', 'hs', 'q_stride', 'scale:f32'],
  },
  silu_mul_f32: {
    file: 'silu_mul_f32',
    libs: ['per_item'],
    buffers: ['read gu: array<f32>', 'rw out: array<f32>'],
    params: ['M', 'H'],
  },
  argmax_f32: { file: 'argmax_f32', buffers: ['read x: array<f32>', 'rw out: array<u32>'], params: ['n', 'off'] },

  // ---- quantization (src/gpu/quant-*.ts); quant_softfloat: bit-exact integer float arithmetic ----
  quant_range: {
    file: 'quant_range',
    libs: ['per_item'],
    buffers: ['read w: array<u32>', 'rw ranges: array<u32>', 'rw status: array<atomic<u32>>'],
    params: ['rows', 'cols', 'G', 'n_groups'],
  },
  quant_params: {
    file: 'quant_params',
    libs: ['per_item', 'quant_softfloat'],
    buffers: [
      'read ranges: array<u32>',
      'rw scales: array<u32>',
      'rw zeros: array<u32>',
      'rw status: array<atomic<u32>>',
    ],
    params: ['n', 'bits', 'sym', 'f16', 'write_zeros', 'tensor'],
  },
  quant_pack: {
    file: 'quant_pack',
    libs: ['per_item', 'quant_softfloat'],
    constants: ['BITS'],
    buffers: ['read w: array<u32>', 'read scales: array<u32>', 'read zeros: array<u32>', 'rw out: array<u32>'],
    params: ['rows', 'cols', 'G', 'n_groups', 'wpr', 'units', 'bits', 'f16', 'has_zeros'],
  },
  quant_int8_rows: {
    file: 'quant_int8_rows',
    libs: ['quant_softfloat'],
    buffers: ['read w: array<u32>', 'rw data: array<u32>', 'rw scales: array<u32>', 'rw status: array<atomic<u32>>'],
    params: ['rows', 'cols', 'wpr'],
  },
  quant_absmax: {
    file: 'quant_absmax',
    libs: ['per_item'],
    buffers: ['read x: array<u32>', 'rw absmax: array<u32>', 'rw status: array<atomic<u32>>'],
    params: ['n', 'B', 'n_blocks'],
  },
  quant_nf4: {
    file: 'quant_nf4',
    libs: ['per_item', 'quant_softfloat'],
    constants: ['FP4'],
    buffers: ['read x: array<u32>', 'read absmax: array<u32>', 'rw out: array<u32>'],
    params: ['n', 'B', 'n_words'],
  },
  float_round: {
    file: 'float_round',
    libs: ['per_item', 'quant_softfloat'],
    buffers: ['read x: array<u32>', 'rw out: array<u32>'],
    params: ['n', 'mb', 'emin:i32', 'max_bits', 'overflow'],
  },
  float_trunc: {
    file: 'float_trunc',
    libs: ['per_item'],
    buffers: ['read x: array<u32>', 'rw out: array<u32>'],
    params: ['n', 'k', 'mode'],
  },
  histogram_codes: {
    file: 'histogram_codes',
    libs: ['qn_code', 'quant_softfloat'],
    constants: ['BITS'],
    buffers: [
      'read q: array<u32>',
      'read w: array<u32>',
      'read scales: array<u32>',
      'read zeros: array<u32>',
      'read gidx: array<u32>',
      'rw out: array<atomic<u32>>',
    ],
    params: ['rows', 'cols', 'wpr', 'G', 'n_groups', 'bits', 'has_w', 'has_gidx'],
  },
  hessian_accum: {
    file: 'hessian_accum',
    buffers: ['read x: array<f32>', 'rw H: array<f32>'],
    params: ['K', 'T', 'x_off', 'decay:f32', 'f:f32'],
  },
  cholesky_prep: {
    file: 'cholesky_prep',
    libs: ['per_item'],
    buffers: ['read H: array<f32>', 'read q: array<u32>', 'rw A: array<f32>'],
    params: ['n', 'damp:f32'],
  },
  cholesky_panel: {
    file: 'cholesky_panel',
    buffers: ['rw a: array<f32>', 'rw ld: array<f32>', 'rw status: array<u32>'],
    params: ['n', 'k0'],
  },
  cholesky_update: { file: 'cholesky_update', buffers: ['rw a: array<f32>'], params: ['n', 'k0'] },
  cholesky_inverse_diag: {
    file: 'cholesky_inverse_diag',
    buffers: ['read ld: array<f32>', 'rw X: array<f32>'],
    params: ['n'],
  },
  cholesky_inverse_rows: {
    file: 'cholesky_inverse_rows',
    buffers: ['read L: array<f32>', 'rw X: array<f32>'],
    params: ['n', 'bi'],
  },
  cholesky_reverse: {
    file: 'cholesky_reverse',
    libs: ['per_item'],
    buffers: ['read X: array<f32>', 'rw U: array<f32>'],
    params: ['n'],
  },
  gptq_fit: {
    file: 'gptq_fit',
    libs: ['per_item'],
    buffers: ['read W: array<f32>', 'rw grid: array<f32>'],
    params: ['rows', 'cols', 'G', 'n_groups', 'g0', 'ng', 'maxq', 'sym'],
  },
  gptq_block: {
    file: 'gptq_block',
    libs: ['per_item'],
    buffers: [
      'read W: array<f32>',
      'read U: array<f32>',
      'read grid: array<f32>',
      'read gidx: array<u32>',
      'rw codes: array<u32>',
      'rw err: array<f32>',
      'rw loss: array<f32>',
    ],
    params: ['rows', 'cols', 's1', 'cnt', 'n_groups', 'maxq'],
  },
  gptq_update: {
    file: 'gptq_update',
    buffers: ['read err: array<f32>', 'read U: array<f32>', 'rw W: array<f32>'],
    params: ['rows', 'cols', 's1', 'cnt'],
  },

  // ---- the bench's bandwidth reference (src/cli/bench-matmul.ts) ----
  copy_stream: {
    file: 'copy_stream',
    constants: ['WG', 'MODE'],
    buffers: ['read src: array<vec4<u32>>', 'rw dst: array<vec4<u32>>'],
    params: ['n_vec', 'magic'],
  },

  // ---- GPU calibration (src/gpu/quant-calib.ts) ----
  absmax_cols: {
    file: 'absmax_cols',
    libs: ['per_item'],
    buffers: ['read x: array<u32>', 'rw acc: array<u32>'],
    params: ['K', 'rows', 'x_off'],
  },

  // ---- 16-bit weights and quantized embeddings (src/gpu/kernels.ts) ----
  matmul_gemv_f16: {
    file: 'matmul_gemv_f16',
    libs: GEMV,
    constants: ['WG', 'PROLOGUE', 'ACCUMULATE'],
    buffers: ['read w: array<u32>', 'read x: array<f32>', 'read g: array<f32>', 'rw out: array<f32>'],
    params: ['K', 'N', 'x_off', 'eps:f32', 'n_off'],
  },
  matmul_gemm_f16: {
    file: 'matmul_gemm_f16',
    libs: ['gemm_tile'],
    constants: ['ACCUMULATE'],
    buffers: ['read x: array<f32>', 'read w: array<u32>', 'rw out: array<f32>'],
    params: ['M', 'N', 'K', 'n_off', 'ldo'],
  },
  embed_f16: {
    file: 'embed_f16',
    libs: ['per_item', 'embed_rows'],
    buffers: ['read tokens: array<u32>', 'read table: array<u32>', 'rw out: array<f32>'],
    params: ['M', 'dim', 'vocab', 'tok_off', 'row0', 'rows'],
  },
  embed_qn: {
    file: 'embed_qn',
    libs: ['per_item', 'embed_rows', 'qn_scales'],
    constants: ['BITS', 'SCALE_F16', 'ASYM'],
    buffers: [
      'read tokens: array<u32>',
      'read q: array<u32>',
      'read s: array<u32>',
      'read z: array<u32>',
      'rw out: array<f32>',
    ],
    params: ['M', 'dim', 'vocab', 'tok_off', 'row0', 'rows', 'group', 'n_groups', 'wpr'],
  },
} as const satisfies Record<string, KernelSpec>;

export type KernelName = keyof typeof KERNELS;

/** The row of `kernel`, widened to KernelSpec (optional fields readable). */
export const kernelSpec = (kernel: KernelName): KernelSpec => KERNELS[kernel];

/** Pipeline-overridable constants of one variant (WGSL `override`); booleans as 0 / 1. */
export type Constants = Readonly<Record<string, number>>;
