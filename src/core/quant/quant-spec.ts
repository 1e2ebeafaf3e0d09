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
  /** Every method: the token embedding table; absent = defaultTableQuant by model size. */
  embed?: TableQuant;
  /** Every method: an untied classifier (a tied one is the embedding table); absent = the default rule. */
  classifier?: TableQuant;
}

const bad = (msg: string) => new NibbleError('bad-argument', msg);

/**
 * How the (vocab, dim) embedding / classifier tables are stored: 'keep' as loaded, 'q8' RTN per
 * row symmetric, 'q4' RTN groups of 32 asymmetric (both read by the embed_qn kernel and the
 * q8 / q4 matmuls; the CPU twin decodes only looked-up rows).
 */
export const TABLE_QUANTS = ['keep', 'q8', 'q4'] as const;
export type TableQuant = (typeof TABLE_QUANTS)[number];

/** Parameters from which a model's tables default to q8 (SmolLM2-135M: a 49,152 × 576 table is 113 MB in f32). */
export const TABLE_Q8_FROM_PARAMS = 100e6;

/** Methods whose linears are stored packed (the others simulate a float format in f32 storage). */
const PACKED_METHODS: readonly QuantMethod[] = ['rtn', 'gptq', 'nf4', 'fp4', 'llmint8', 'smoothquant'];

/**
 * The table format used when the user does not choose: models of ≥ 100M parameters with packed
 * linears store their tables in q8 (a large share of the bytes, no measurable perplexity cost);
 * smaller models keep theirs (their variants then measure the linears alone, as every result
 * before this option did), and so do fp32 and the float-simulating methods (a q8 table would mix
 * a second format into what they measure). Measurements: docs/results.md.
 */
export function defaultTableQuant(params: number, method: QuantMethod): TableQuant {
  return PACKED_METHODS.includes(method) && params >= TABLE_Q8_FROM_PARAMS ? 'q8' : 'keep';
}

/**
 * The formats of the embedding and classifier tables: the user's choice, else the default rule.
 * A tied table is stored once, so both roles get one format: the one chosen (embed first); two
 * different explicit choices for one tied table are refused.
 */
export function resolveTableQuants(
  spec: QuantSpec,
  params: number,
  tied: boolean,
): { embed: TableQuant; classifier: TableQuant } {
  const d = defaultTableQuant(params, spec.method);
  if (!tied) return { embed: spec.embed ?? d, classifier: spec.classifier ?? d };
  if (spec.embed && spec.classifier && spec.embed !== spec.classifier)
    throw bad(
      `the model's classifier is its embedding table (tied): --embed ${spec.embed} and --classifier ${spec.classifier} cannot both hold; give one of them`,
    );
  const t = spec.embed ?? spec.classifier ?? d;
  return { embed: t, classifier: t };
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
  for (const k of ['embed', 'classifier'] as const) {
    const v = spec[k];
    if (v !== undefined && !(TABLE_QUANTS as readonly string[]).includes(v))
      throw bad(`--${k} must be one of ${TABLE_QUANTS.join(', ')}, got '${String(v)}'`);
  }
}

/** The table choices a label names: "embed q8", "classifier q4" ('keep' and the default are not named). */
function tableLabel(s: QuantSpec): string {
  const e = s.embed && s.embed !== 'keep' ? s.embed : '';
  const c = s.classifier && s.classifier !== 'keep' ? s.classifier : '';
  if (e && e === c) return `emb+cls ${e}`;
  return [e && `embed ${e}`, c && `classifier ${c}`].filter(Boolean).join(' · ');
}

/** Short human label: "gptq int4 g128 act-order", "rtn int4 g32 · embed q8", "trunc 3 bits (rne)". */
export function specLabel(s: QuantSpec): string {
  const tables = tableLabel(s);
  return tables ? `${methodLabel(s)} · ${tables}` : methodLabel(s);
}

function methodLabel(s: QuantSpec): string {
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
