// What the user asks a quantization to be: one spec shared by the CLI flags, the UI form and
// saved variants. Validation here gives the same clear messages everywhere (CLI exit code 2).
import { NibbleError } from '../errors.ts';
import type { FloatFormat } from './float-formats.ts';
import { GPTQ_DEFAULTS } from './gptq.ts';

export const QUANT_METHODS = [
  'fp32',
  'rtn',
  'gptq',
  'llmint8',
  'smoothquant',
  'nf4',
  'fp4',
  'fp16',
  'bf16',
  'tf32',
  'fp8-e4m3',
  'fp8-e5m2',
  'trunc',
] as const;
export type QuantMethod = (typeof QUANT_METHODS)[number];

/** The float-rounding methods and the format each rounds every weight to. */
export const FLOAT_METHODS: Readonly<Partial<Record<QuantMethod, FloatFormat>>> = {
  fp16: 'fp16',
  bf16: 'bf16',
  tf32: 'tf32',
  'fp8-e4m3': 'fp8e4m3',
  'fp8-e5m2': 'fp8e5m2',
};

export interface QuantSpec {
  method: QuantMethod;
  bits: number; // rtn / gptq: 2..8
  group: number; // rtn / gptq: inputs per group; 0 = per row. nf4 / fp4: block size (64)
  sym: boolean; // rtn / gptq: symmetric (no zero point)
  actOrder: boolean; // gptq
  staticGroups: boolean; // gptq
  damp: number; // gptq: fraction of mean(diag H) added to the diagonal
  blockSize: number; // gptq: lazy batch width
  alpha: number; // smoothquant migration strength
  threshold: number; // llmint8 outlier threshold
  mantissaBits: number; // trunc: fraction bits kept, 0..23
  truncMode: 'truncate' | 'rne'; // trunc: zero the dropped bits, or round to nearest even
  doubleQuant: boolean; // nf4 / fp4
  scaleType: 'f32' | 'f16'; // rtn / gptq scale storage
}

export const DEFAULT_SPEC: QuantSpec = {
  method: 'fp32',
  ...GPTQ_DEFAULTS, // bits 4, group 128, asym, no act-order, damp 0.01, block 128
  alpha: 0.5,
  threshold: 6.0,
  mantissaBits: 10,
  truncMode: 'truncate',
  doubleQuant: false,
  scaleType: 'f32',
};

/** Methods that need calibration text (activations) to quantize. */
export const needsCalibration = (m: QuantMethod): boolean => m === 'gptq' || m === 'smoothquant';

const bad = (msg: string) => new NibbleError('bad-argument', msg);

/** Checks a spec against the model's linear input widths; throws bad-argument with the reason. */
export function validateSpec(spec: QuantSpec, inputWidths: readonly number[]): void {
  if (!(QUANT_METHODS as readonly string[]).includes(spec.method))
    throw bad(`unknown method '${spec.method}' (one of ${QUANT_METHODS.join(', ')})`);
  if (spec.method === 'rtn' || spec.method === 'gptq') {
    if (!Number.isInteger(spec.bits) || spec.bits < 2 || spec.bits > 8)
      throw bad(`--bits must be a whole number from 2 to 8, got ${spec.bits}`);
    if (!Number.isInteger(spec.group) || spec.group < 0)
      throw bad(`--group must be 0 (per row) or a positive whole number, got ${spec.group}`);
    // A group must tile every row exactly, or be a multiple of 32 codes (whole packed words for
    // every bit width), in which case a row's last group may be shorter (ragged).
    if (spec.group > 0 && spec.group % 32 !== 0) {
      const widths = [...new Set(inputWidths)];
      const bad_ = widths.filter((K) => K % spec.group !== 0 && spec.group < K);
      if (bad_.length)
        throw bad(
          `--group ${spec.group} does not divide the input width ${bad_.join(', ')} (linear widths: ${widths.join(', ')}) and is not a multiple of 32; use a divisor, a multiple of 32, or --group 0 (per row)`,
        );
    }
  }
  if (spec.method === 'gptq') {
    if (!(spec.damp > 0 && spec.damp < 1)) throw bad(`--damp must be in (0, 1), got ${spec.damp}`);
    if (!Number.isInteger(spec.blockSize) || spec.blockSize < 1)
      throw bad(`block size must be ≥ 1, got ${spec.blockSize}`);
  }
  if (spec.method === 'smoothquant' && !(spec.alpha >= 0 && spec.alpha <= 1))
    throw bad(`--alpha must be in [0, 1], got ${spec.alpha}`);
  if (spec.method === 'llmint8' && !(spec.threshold > 0)) throw bad(`--threshold must be > 0, got ${spec.threshold}`);
  if (
    spec.method === 'trunc' &&
    !(Number.isInteger(spec.mantissaBits) && spec.mantissaBits >= 0 && spec.mantissaBits <= 23)
  ) {
    throw bad(`--mantissa-bits must be a whole number from 0 to 23, got ${spec.mantissaBits}`);
  }
  if ((spec.method === 'nf4' || spec.method === 'fp4') && !(Number.isInteger(spec.group) && spec.group >= 1))
    throw bad(`block size must be ≥ 1, got ${spec.group}`);
}

/** Short human label: "gptq int4 g128 act-order", "trunc 3 bits (rne)". */
export function specLabel(s: QuantSpec): string {
  switch (s.method) {
    case 'rtn':
    case 'gptq':
      return [
        s.method,
        `int${s.bits}`,
        s.group ? `g${s.group}` : 'per-row',
        s.sym ? 'sym' : '',
        s.actOrder ? 'act-order' : '',
        s.staticGroups ? 'static' : '',
      ]
        .filter(Boolean)
        .join(' ');
    case 'trunc':
      return `trunc ${s.mantissaBits} bits${s.truncMode === 'rne' ? ' (rne)' : ''}`;
    case 'smoothquant':
      return `smoothquant W8A8 α=${s.alpha}`;
    case 'llmint8':
      return `llm.int8 τ=${s.threshold}`;
    case 'nf4':
    case 'fp4':
      return `${s.method}${s.doubleQuant ? ' dq' : ''}`;
    default:
      return s.method;
  }
}
