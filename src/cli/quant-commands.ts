// `nibble eval` and `nibble quantize`: the evaluation protocol (evaluation.md) and saving
// quantized variants as .nibble files. Flags map one-to-one onto QuantSpec.
import { stat, writeFile } from 'node:fs/promises';
import { NibbleError } from '../core/errors.ts';
import {
  decodeTextFile,
  defaultWindows,
  estimateText,
  MAX_TEXT_BYTES,
  MAX_WINDOW_LENGTH,
  MAX_WINDOWS,
  PURPOSE_NAME,
  textChoiceWindows,
  type TextPurpose,
  type WindowOptions,
} from '../core/text-source.ts';
import { countParams } from '../worker/sources/model-source.ts';
import { LINEAR_NAMES } from '../core/model/model.ts';
import { writeNibbleFile } from '../core/formats/nibble-file.ts';
import { evaluate, type EvalReport } from '../engine/evaluate.ts';
import {
  DEFAULT_SPEC,
  QUANT_METHODS,
  TABLE_QUANTS,
  needsCalibration,
  type QuantMethod,
  type QuantSpec,
  type TableQuant,
} from '../core/quant/quant-spec.ts';
import { quantizeModel, type QuantizeReport } from '../engine/quantize.ts';
import { numberOption, parseArgs, type ParsedArgs } from './args.ts';
import type { CliIo } from './cli-io.ts';
import {
  backendOption,
  createRunner,
  loadModel,
  openBackend,
  readInput,
  withOwnContext,
  type LoadedModel,
} from './model-files.ts';
import { GpuQuantizer } from '../engine/quant/gpu-backend.ts';
import { isSoftwareAdapter, type GpuContext } from '../gpu/device.ts';

export const QUANT_FLAGS = {
  model: { kind: 'string' },
  tokenizer: { kind: 'string' },
  text: { kind: 'string' },
  calib: { kind: 'string' },
  seq: { kind: 'string' },
  backend: { kind: 'string' },
  method: { kind: 'string' },
  bits: { kind: 'string' },
  group: { kind: 'string' },
  sym: { kind: 'flag' },
  'act-order': { kind: 'flag' },
  'static-groups': { kind: 'flag' },
  damp: { kind: 'string' },
  alpha: { kind: 'string' },
  threshold: { kind: 'string' },
  'mantissa-bits': { kind: 'string' },
  round: { kind: 'string' },
  'double-quant': { kind: 'flag' },
  'f16-scales': { kind: 'flag' },
  embed: { kind: 'string' },
  classifier: { kind: 'string' },
  json: { kind: 'flag' },
  help: { kind: 'flag' },
  h: { kind: 'flag' },
} as const;

/** The text options of eval and quantize alone (export reads --calib / --seq itself). */
const TEXT_FLAGS = {
  'eval-text': { kind: 'string' },
  'calib-text': { kind: 'string' },
  windows: { kind: 'string' },
  'window-len': { kind: 'string' },
} as const;

export const QUANT_USAGE = `
eval: perplexity and drift (vs fp32) of a quantization on a text file.
  nibble eval --model FILE [--tokenizer FILE] --eval-text FILE [--calib-text FILE]
              [--windows N] [--window-len N] [--backend webgpu|cpu] --method M [method options] [--json]
quantize: quantize and save a .nibble file (loads back bit-exactly in generate, eval, the app).
  nibble quantize --model FILE [--tokenizer FILE] [--calib-text FILE] [--windows N] [--window-len N]
              --method M [options] --out FILE
  --eval-text FILE  evaluation text, UTF-8, at most 16 MB (also --text FILE)
  --calib-text FILE calibration text (required by gptq and smoothquant; also --calib FILE)
  --windows N       windows taken from the start of each text (default by model size: 64 for
                    stories260K … 2 for 1B parameters; printed before running)
  --window-len N    tokens per window (default 256 up to 100M parameters, else 128; also --seq N)
  --method M        ${QUANT_METHODS.join(' | ')}
  --bits N          rtn / gptq: 2..8 (default 4)
  --group N         rtn / gptq: inputs per group, 0 = per row (default 128); must divide every
                    linear's input width or be a multiple of 32 (ragged last group)
  --sym             symmetric grid (default asymmetric, with zero points)
  --act-order       gptq: columns by decreasing Hessian diagonal
  --static-groups   gptq: group grids fitted on the original weights
  --damp F          gptq: dampening, fraction of mean diag(H) (default 0.01)
  --alpha F         smoothquant: migration strength (default 0.5)
  --threshold F     llmint8: outlier threshold (default 6.0)
  --mantissa-bits N trunc: fraction bits kept, 0..23 (default 10)
  --round MODE      trunc: truncate (default) | rne
  --double-quant    nf4 / fp4: quantize the absmax values too
  --f16-scales      rtn: store scales as fp16
  --embed T         every method: the token embedding table, keep | q8 (per row, sym) | q4 (g32)
                    (default: q8 from 100M parameters for rtn, gptq, nf4, fp4, llmint8,
                    smoothquant; keep otherwise)
  --classifier T    every method: the output classifier, keep | q8 | q4 (same default); a tied
                    classifier is the embedding table (give one of --embed / --classifier)
`;

export function specFromArgs(args: ParsedArgs): QuantSpec {
  const method = (args.values.method ?? 'fp32') as QuantMethod;
  if (!(QUANT_METHODS as readonly string[]).includes(method))
    throw new NibbleError('bad-argument', `--method must be one of ${QUANT_METHODS.join(', ')}, got "${method}"`);
  const round = args.values.round ?? 'truncate';
  if (round !== 'truncate' && round !== 'rne')
    throw new NibbleError('bad-argument', `--round must be truncate or rne, got "${round}"`);
  const codebook = method === 'nf4' || method === 'fp4';
  return {
    ...DEFAULT_SPEC,
    method,
    bits: numberOption(args, 'bits', DEFAULT_SPEC.bits, { min: 2, max: 8, integer: true }),
    group: numberOption(args, 'group', codebook ? 64 : DEFAULT_SPEC.group, {
      min: codebook ? 1 : 0,
      max: 1 << 20,
      integer: true,
    }),
    sym: args.flags.has('sym'),
    actOrder: args.flags.has('act-order'),
    staticGroups: args.flags.has('static-groups'),
    damp: numberOption(args, 'damp', DEFAULT_SPEC.damp, { min: 1e-9, max: 0.999 }),
    alpha: numberOption(args, 'alpha', DEFAULT_SPEC.alpha, { min: 0, max: 1 }),
    threshold: numberOption(args, 'threshold', DEFAULT_SPEC.threshold, { min: 1e-6, max: 1e9 }),
    mantissaBits: numberOption(args, 'mantissa-bits', DEFAULT_SPEC.mantissaBits, { min: 0, max: 23, integer: true }),
    truncMode: round,
    doubleQuant: args.flags.has('double-quant'),
    scaleType: args.flags.has('f16-scales') ? 'f16' : 'f32',
    ...tableOption(args, 'embed'),
    ...tableOption(args, 'classifier'),
  };
}

/** --embed / --classifier: one of TABLE_QUANTS, or absent (the spec then leaves the default rule to decide). */
function tableOption(args: ParsedArgs, flag: 'embed' | 'classifier'): Partial<Pick<QuantSpec, typeof flag>> {
  const v = Object.hasOwn(args.values, flag) ? args.values[flag] : undefined;
  if (v === undefined) return {};
  if (!(TABLE_QUANTS as readonly string[]).includes(v))
    throw new NibbleError('bad-argument', `--${flag} must be one of ${TABLE_QUANTS.join(', ')}, got "${v}"`);
  return { [flag]: v as TableQuant };
}

/** One of two spellings of a string option (`--calib-text` / `--calib`); both at once is an error. */
function eitherOption(args: ParsedArgs, name: string, alias: string): { flag: string; value: string } | null {
  const a = Object.hasOwn(args.values, name) ? args.values[name] : undefined;
  const b = Object.hasOwn(args.values, alias) ? args.values[alias] : undefined;
  if (a !== undefined && b !== undefined)
    throw new NibbleError('bad-argument', `--${name} and --${alias} mean the same: give one of them`);
  return a !== undefined ? { flag: name, value: a } : b !== undefined ? { flag: alias, value: b } : null;
}

/** A text file: at most MAX_TEXT_BYTES (checked before reading), UTF-8, not binary, not blank. */
async function textFile(io: CliIo, flag: string, path: string): Promise<string> {
  if (!io.readFile) {
    const size = await stat(path).then(
      (st) => st.size,
      () => -1,
    );
    if (size > MAX_TEXT_BYTES)
      throw new NibbleError(
        'over-limit',
        `--${flag} ${path} is ${(size / (1 << 20)).toFixed(1)} MB; texts up to ${MAX_TEXT_BYTES >> 20} MB are accepted`,
      );
  }
  return decodeTextFile(await readInput(io, flag, path), `--${flag} ${path}`);
}

/** --windows / --window-len (alias --seq) over the model-size default; checked against the context. */
export function windowOptionsFromArgs(args: ParsedArgs, params: number, context: number): WindowOptions {
  const d = defaultWindows(params, context);
  const len = eitherOption(args, 'window-len', 'seq');
  const opts = {
    windows: numberOption(args, 'windows', d.windows, { min: 1, max: MAX_WINDOWS, integer: true }),
    length: len
      ? numberOption({ ...args, values: { [len.flag]: len.value } }, len.flag, d.length, {
          min: 2,
          max: MAX_WINDOW_LENGTH,
          integer: true,
        })
      : d.length,
  };
  if (opts.length > context)
    throw new NibbleError(
      'bad-argument',
      `--${len?.flag ?? 'window-len'} ${opts.length} exceeds the model's context of ${context}`,
    );
  return opts;
}

/** "calibration: 8 windows × 256 tokens = 2048 tokens of --calib-text c.txt (≈ 40 s on the CPU)". */
function windowsLine(
  purpose: TextPurpose,
  opts: WindowOptions,
  path: string,
  flag: string,
  params: number,
  backend: 'cpu' | 'webgpu',
): string {
  const e = estimateText(opts, null, params, backend, purpose);
  const secs = e.seconds < 1 ? '< 1 s' : `≈ ${e.seconds.toFixed(0)} s`;
  return `nibble: ${PURPOSE_NAME[purpose]}: ${opts.windows} windows × ${opts.length} tokens = ${e.tokens} tokens of --${flag} ${path} (rough time ${secs} on ${backend === 'webgpu' ? 'the GPU' : 'the CPU'})\n`;
}

/** Shared by eval and quantize: load, check flags, read calibration windows, quantize. */
async function prepare(
  args: ParsedArgs,
  io: CliIo,
  ctx: GpuContext | null,
): Promise<{
  loaded: LoadedModel;
  spec: QuantSpec;
  q: Awaited<ReturnType<typeof quantizeModel>>;
  windows: WindowOptions;
}> {
  const spec = specFromArgs(args);
  const calib = eitherOption(args, 'calib-text', 'calib');
  if (needsCalibration(spec.method) && !calib)
    throw new NibbleError('bad-argument', `--method ${spec.method} needs calibration text: add --calib FILE`);
  const calibText = calib ? await textFile(io, calib.flag, calib.value) : null;
  const loaded = await loadModel(io, args.values.model, args.values.tokenizer);
  const c = loaded.model.config;
  const params = countParams(loaded.model);
  const windows = windowOptionsFromArgs(args, params, c.seqLen);
  let calibration: number[][] = [];
  if (calib && calibText !== null) {
    io.stderr.write(windowsLine('calib', windows, calib.value, calib.flag, params, ctx ? 'webgpu' : 'cpu'));
    calibration = textChoiceWindows(loaded.tokenizer, calibText, windows, `--${calib.flag} ${calib.value}`, c.seqLen);
  }
  let lastLayer = -1;
  const gpu = ctx ? new GpuQuantizer(ctx) : undefined;
  const q = await quantizeModel(loaded.model, spec, {
    calibration,
    gpu,
    // A software adapter (SwiftShader) runs calibration passes slower than the CPU twin.
    cpuCalibration: ctx ? isSoftwareAdapter(ctx.adapterInfo) : undefined,
    onProgress: (p) => {
      if (p.layer !== lastLayer || p.linear) {
        lastLayer = p.layer;
        io.stderr.write(
          `nibble: ${p.stage} layer ${p.layer + 1}/${p.nLayers}${p.linear ? ` ${p.linear}` : ''}${p.gptqLoss !== undefined ? ` loss ${p.gptqLoss.toFixed(4)}` : ''}\n`,
        );
      }
    },
  });
  gpu?.dispose();
  return { loaded, spec, q, windows };
}

function evalJson(r: EvalReport, q: QuantizeReport, backend: string): Record<string, unknown> {
  return {
    method: q.spec.method,
    label: q.label,
    backend,
    ppl: r.ppl,
    tokens: r.tokens,
    windows: r.windows,
    kl_mean: r.klMean,
    kl_p99: r.klP99,
    top1_agreement: r.top1Agreement,
    weight_bytes: q.weightBytes,
    linear_bytes: q.linearBytes,
    bits_per_weight: q.bitsPerWeight,
    nominal_bits: q.nominalBits,
    layers: r.layers.map((l, i) => {
      const ql = q.layers[i];
      return {
        sqnr_db: Number.isFinite(l.sqnrDb) ? l.sqnrDb : null,
        ...(ql?.gptqLoss !== undefined
          ? {
              gptq_loss: ql.gptqLoss,
              gptq_loss_per_linear: Object.fromEntries(LINEAR_NAMES.map((n) => [n, ql.linears[n].gptqLoss])),
            }
          : {}),
        ...(ql?.outlierDims ? { outlier_dims: ql.outlierDims } : {}),
        weight_sqnr_db: ql ? Object.fromEntries(LINEAR_NAMES.map((n) => [n, ql.linears[n].sqnrDb])) : undefined,
      };
    }),
    quantize_seconds: q.seconds,
    seconds: r.seconds,
  };
}

export async function runEval(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { ...QUANT_FLAGS, ...TEXT_FLAGS });
  if (args.flags.has('help') || args.flags.has('h')) return (io.stdout.write(QUANT_USAGE), 0);
  if (args.positionals.length) throw new NibbleError('bad-argument', `unexpected argument "${args.positionals[0]}"`);
  const backend = backendOption(args.values.backend);
  const evalFile = eitherOption(args, 'eval-text', 'text');
  if (!evalFile) throw new NibbleError('bad-argument', '--eval-text FILE (or --text FILE) is required');
  const text = await textFile(io, evalFile.flag, evalFile.value);
  const ctx = await openBackend(io, backend);
  try {
    const { loaded, q, windows: opts } = await prepare(args, io, ctx);
    const seq = opts.length;
    io.stderr.write(
      windowsLine('eval', opts, evalFile.value, evalFile.flag, countParams(loaded.model), ctx ? 'webgpu' : 'cpu'),
    );
    const windows = textChoiceWindows(
      loaded.tokenizer,
      text,
      opts,
      `--${evalFile.flag} ${evalFile.value}`,
      loaded.model.config.seqLen,
    );
    const target = await createRunner(ctx, q.model);
    const w = q.model.weights;
    const unchanged =
      q.report.spec.method === 'fp32' &&
      w.tokEmb === loaded.model.weights.tokEmb &&
      w.wcls === loaded.model.weights.wcls;
    const reference = unchanged ? null : await createRunner(ctx, loaded.model);
    try {
      const r = await evaluate(target, windows, reference, (p) =>
        io.stderr.write(`nibble: eval window ${p.window}/${p.windows} ppl ${p.pplSoFar.toFixed(3)}\r`),
      );
      io.stderr.write('\n');
      const out = evalJson(
        r.klMean === null ? { ...r, klMean: 0, klP99: 0, top1Agreement: 1 } : r,
        q.report,
        ctx ? 'webgpu' : 'cpu',
      );
      if (args.flags.has('json')) io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else {
        io.stdout.write(
          `${q.report.label}: ppl ${r.ppl.toFixed(4)} over ${r.tokens} tokens (${r.windows} windows of ${seq})\n`,
        );
        if (r.klMean !== null)
          io.stdout.write(
            `drift vs fp32: KL mean ${r.klMean.toFixed(5)}, p99 ${r.klP99!.toFixed(5)}, top-1 agreement ${(100 * r.top1Agreement!).toFixed(2)} %\n`,
          );
        io.stdout.write(
          `weights: ${q.report.weightBytes} bytes, ${q.report.bitsPerWeight.toFixed(3)} bits per linear weight\n`,
        );
      }
    } finally {
      target.dispose();
      reference?.dispose();
    }
  } finally {
    ctx?.destroy();
  }
  return 0;
}

export async function runQuantize(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { ...QUANT_FLAGS, ...TEXT_FLAGS, out: { kind: 'string' } });
  if (args.flags.has('help') || args.flags.has('h')) return (io.stdout.write(QUANT_USAGE), 0);
  if (args.positionals.length) throw new NibbleError('bad-argument', `unexpected argument "${args.positionals[0]}"`);
  if (!args.values.out) throw new NibbleError('bad-argument', '--out FILE is required');
  const ctx = await openBackend(io, backendOption(args.values.backend));
  let prepared;
  try {
    prepared = await prepare(args, io, ctx);
  } finally {
    ctx?.destroy();
  }
  const { loaded, spec, q } = prepared;
  const bytes = writeNibbleFile(withOwnContext(loaded, q.model), {
    tokenizer: loaded.tokenizerFiles,
    label: q.report.label,
    spec,
  });
  try {
    await writeFile(args.values.out, bytes);
  } catch (e) {
    throw new NibbleError('bad-argument', `cannot write --out ${args.values.out}: ${(e as Error).message}`);
  }
  const summary = {
    out: args.values.out,
    label: q.report.label,
    file_bytes: bytes.byteLength,
    weight_bytes: q.report.weightBytes,
    bits_per_weight: q.report.bitsPerWeight,
    seconds: q.report.seconds,
  };
  io.stdout.write(
    args.flags.has('json')
      ? `${JSON.stringify(summary, null, 2)}\n`
      : `wrote ${summary.out}: ${summary.label}, ${summary.file_bytes} bytes, ${summary.bits_per_weight.toFixed(3)} bits per linear weight\n`,
  );
  return 0;
}
