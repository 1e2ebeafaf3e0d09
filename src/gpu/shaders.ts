// Every WGSL kernel, imported as a string. The only module that imports shaders/*.wgsl:
// Vite and Vitest handle `?raw`; the CLI runs through tsx with the `?raw` loader hook in bin/.
import add_f32 from '../../shaders/add_f32.wgsl?raw';
import argmax_f32 from '../../shaders/argmax_f32.wgsl?raw';
import attention_f32 from '../../shaders/attention_f32.wgsl?raw';
import embed_f32 from '../../shaders/embed_f32.wgsl?raw';
import matmul_gemm_f32 from '../../shaders/matmul_gemm_f32.wgsl?raw';
import matmul_gemv_f32 from '../../shaders/matmul_gemv_f32.wgsl?raw';
import matmul_gemv_f32_sg from '../../shaders/matmul_gemv_f32_sg.wgsl?raw';
import rmsnorm_f32 from '../../shaders/rmsnorm_f32.wgsl?raw';
import rope_f32 from '../../shaders/rope_f32.wgsl?raw';
import silu_mul_f32 from '../../shaders/silu_mul_f32.wgsl?raw';

export const SHADERS = {
  add_f32,
  argmax_f32,
  attention_f32,
  embed_f32,
  matmul_gemm_f32,
  matmul_gemv_f32,
  matmul_gemv_f32_sg,
  rmsnorm_f32,
  rope_f32,
  silu_mul_f32,
} as const;

export type ShaderName = keyof typeof SHADERS;
