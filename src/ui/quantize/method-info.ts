// What each quantization method is, in one line, and which options it reads.
import type { QuantMethod } from '../../state/lab-types.ts';

export const METHOD_INFO: Record<QuantMethod, { name: string; what: string }> = {
  fp32: { name: 'fp32 (copy)', what: 'No quantization: a copy of the loaded model, as a baseline variant.' },
  rtn: {
    name: 'RTN (round to nearest)',
    what: 'Uniform grid per row or per group of inputs, each weight rounded to the nearest level. No calibration.',
  },
  gptq: {
    name: 'GPTQ',
    what: 'Uniform grid, columns quantized one by one while the remaining ones absorb the error (Hessian from calibration text).',
  },
  llmint8: {
    name: 'LLM.int8()',
    what: 'Absmax int8 per output row; input features with activations ≥ α stay in 16/32 bits.',
  },
  smoothquant: {
    name: 'SmoothQuant W8A8',
    what: 'Moves activation outliers into the weights (per-channel scale, strength α), then int8 weights and activations.',
  },
  nf4: { name: 'NF4', what: 'QLoRA 4-bit normal-float codebook, absmax per block of 64 weights.' },
  fp4: { name: 'FP4', what: '4-bit float codebook (bitsandbytes), absmax per block.' },
  fp16: { name: 'fp16', what: 'IEEE half precision: 5 exponent, 10 fraction bits (simulated in fp32).' },
  bf16: { name: 'bf16', what: 'bfloat16: 8 exponent, 7 fraction bits.' },
  tf32: { name: 'tf32', what: 'TensorFloat-32: 8 exponent, 10 fraction bits.' },
  'fp8-e4m3': { name: 'fp8 E4M3', what: '8-bit float, 4 exponent + 3 fraction bits, max 448.' },
  'fp8-e5m2': { name: 'fp8 E5M2', what: '8-bit float, 5 exponent + 2 fraction bits.' },
  trunc: {
    name: 'fp32 fraction truncation',
    what: 'Keeps k of the 23 fraction bits (zeroes the rest, or rounds to nearest even).',
  },
};

/** Options shown for a method (keys of QuantSpec). */
export function optionsFor(m: QuantMethod): string[] {
  switch (m) {
    case 'rtn':
      return ['bits', 'group', 'sym', 'scaleType'];
    case 'gptq':
      return ['bits', 'group', 'sym', 'actOrder', 'staticGroups', 'damp'];
    case 'llmint8':
      return ['threshold'];
    case 'smoothquant':
      return ['alpha'];
    case 'nf4':
    case 'fp4':
      return ['block', 'doubleQuant'];
    case 'trunc':
      return ['mantissaBits', 'truncMode'];
    default:
      return [];
  }
}
