// `nibble bench`: the performance report (issue 2 + issue 3), one JSON object with --json.
//   stories  prefill/decode tok/s of stories260K on webgpu and cpu, submits/dispatches per token
//   matmul   int4/int8 GEMV and GEMM µs and GB/s vs a stream/copy kernel and onnxruntime-web
//   decode   decode tok/s of stories260K and a SmolLM2-135M-shaped model at fp32, q8, q4-g32
//   gptq     GPTQ wall time for the 135M shape's linears (measured subset + extrapolation)
//   scale    real-size synthetic checkpoints: load, RSS, GPU bytes, RTN/GPTQ, eval, decode (--only scale)
// Each part lives in src/cli/bench-<part>.ts; docs/bench.md explains every figure. On
// SwiftShader (no GPU) the "GPU" is this machine's CPU: the defaults switch to --quick sizes
// and the report says the numbers are CPU numbers.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { NibbleError, isNibbleError } from '../core/errors.ts';
import { parseLlama2c } from '../core/formats/llama2c.ts';
import { describeAdapter, isSoftwareAdapter, type GpuContext } from '../gpu/device.ts';
import type { Backend } from '../engine/runner.ts';
import { numberOption, parseArgs, type ParsedArgs } from './args.ts';
import {
  DECODE_FORMATS,
  SMOL135M_CONFIG,
  benchDecode,
  paramCount,
  randomSharedBlockModel,
  type DecodeFormat,
  type DecodeRow,
} from './bench-decode.ts';
import { formatReport } from './bench-format.ts';
import { DEFAULT_SECTIONS, SECTIONS, type BenchReport } from './bench-report.ts';
import { benchGptq, type GptqReport } from './bench-gptq.ts';
import { MATMUL_FORMATS, benchMatmul, type MatmulFormat } from './bench-matmul.ts';
import { loadOrt } from './bench-ort.ts';
import { benchScale, scaleOptions, type ScaleReport } from './bench-scale.ts';
import { benchStories, type BackendResult } from './bench-stories.ts';
import { GpuTimer, createBenchGpuContext } from './bench-util.ts';
import { createNodeGpu } from './dawn.ts';

export type { BackendResult } from './bench-stories.ts';

export const BENCH_USAGE = `nibble bench [--json] [--quick | --full] [options]

Prints the performance report (docs/bench.md explains every figure); --json prints one JSON
object on stdout, progress goes to stderr. Defaults: --quick on SwiftShader (CPU emulation),
--full on a real GPU.
  --only LIST           sections: stories,matmul,decode,gptq,scale (default all but scale)
  --seed N              PRNG seed of every random weight and activation (default 1)
  --model FILE          the stories260K checkpoint (default public/models/stories260K.bin)
stories260K (issue 2): --prefill-tokens N (64) --prefill-reps N (full 5, quick 3)
                       --stories-decode N (full 128, quick 32)
matmul:   --shapes NxK,...  (full 4096x4096,11008x4096,4096x11008; quick each ÷ 8)
          --gemm-m N (full 64, quick 16)  --formats q4-g32,q4-row,q8-row
          --target-ms F (ms per timed trial; full 50, quick 200)  --trials N (full 7, quick 3)
          --no-ort (skip onnxruntime-web)
decode:   --decode-models stories,smol135m  --decode-formats fp32,q8,q4-g32
          --decode-tokens N (full 128, quick 4)  --decode-layers N (smol135m: full 30, quick 2)
          --seq N (smol135m context, 512)
gptq:     --gptq-layers N (full 30, quick 1)  --gptq-windows N (full 128, quick 2)
          --gptq-tokens N (256)  --gptq-backend gpu|cpu (default: cpu on SwiftShader, else gpu)
scale:    synthetic checkpoints written to a temp dir, each step a child process (peak RSS):
          --scale-models smollm2-135m,qwen2.5-0.5b,llama-3.2-1b (also qwen3-0.6b)
          --scale-layers N (quick 2, full: published depth)  --scale-steps load,rtn,gptq,eval
          --scale-gptq-models LIST (quick smollm2-135m, full all)
          --scale-tokens N (decode; full 32, quick 2)  --scale-windows N (eval; full 4, quick 1)
          --scale-window-len N (full 128, quick 32)  --scale-gptq-windows N (full 8, quick 1)
          --scale-backend webgpu|cpu (load + decode)  --scale-gptq-backend, --scale-eval-backend
          webgpu|cpu (cpu on SwiftShader)
          --scale-rtn-backend auto|webgpu|cpu (auto)  --scale-dir DIR (keep / reuse the folders)
`;

const SPEC = {
  json: { kind: 'flag' },
  quick: { kind: 'flag' },
  full: { kind: 'flag' },
  help: { kind: 'flag' },
  h: { kind: 'flag' },
  'no-ort': { kind: 'flag' },
  only: { kind: 'string' },
  seed: { kind: 'string' },
  model: { kind: 'string' },
  'prefill-tokens': { kind: 'string' },
  'prefill-reps': { kind: 'string' },
  'stories-decode': { kind: 'string' },
  shapes: { kind: 'string' },
  'gemm-m': { kind: 'string' },
  formats: { kind: 'string' },
  'target-ms': { kind: 'string' },
  trials: { kind: 'string' },
  'decode-models': { kind: 'string' },
  'decode-formats': { kind: 'string' },
  'decode-tokens': { kind: 'string' },
  'decode-layers': { kind: 'string' },
  seq: { kind: 'string' },
  'gptq-layers': { kind: 'string' },
  'gptq-windows': { kind: 'string' },
  'gptq-tokens': { kind: 'string' },
  'gptq-backend': { kind: 'string' },
  'scale-models': { kind: 'string' },
  'scale-layers': { kind: 'string' },
  'scale-steps': { kind: 'string' },
  'scale-tokens': { kind: 'string' },
  'scale-windows': { kind: 'string' },
  'scale-window-len': { kind: 'string' },
  'scale-gptq-windows': { kind: 'string' },
  'scale-gptq-models': { kind: 'string' },
  'scale-backend': { kind: 'string' },
  'scale-gptq-backend': { kind: 'string' },
  'scale-rtn-backend': { kind: 'string' },
  'scale-eval-backend': { kind: 'string' },
  'scale-dir': { kind: 'string' },
  'scale-step': { kind: 'string' }, // internal: the child process of one scale step
} as const;

const r2 = (x: number): number => Number(x.toFixed(2));
const DEFAULT_MODEL = new URL('../../public/models/stories260K.bin', import.meta.url);

function list<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
  const raw = args.values[name];
  if (raw === undefined) return [...fallback];
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.find((s) => !(allowed as readonly string[]).includes(s));
  if (bad !== undefined || !items.length)
    throw new NibbleError('bad-argument', `--${name}: "${bad ?? raw}" is not one of ${allowed.join(', ')}`);
  return items as T[];
}

function shapes(raw: string | undefined, fallback: [number, number][]): [number, number][] {
  if (raw === undefined) return fallback;
  return raw.split(',').map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s.trim());
    if (!m || +m[1] < 1 || +m[2] < 32 || +m[2] % 32)
      throw new NibbleError('bad-argument', `--shapes: "${s}" must be NxK with K a multiple of 32`);
    return [+m[1], +m[2]] as [number, number];
  });
}

const FULL_SHAPES: [number, number][] = [
  [4096, 4096],
  [11008, 4096],
  [4096, 11008],
];

/** Opens the bench's device; null with the reason when WebGPU cannot run here. */
async function openGpu(): Promise<{ ctx: GpuContext | null; why: string }> {
  try {
    return { ctx: await createBenchGpuContext(), why: '' };
  } catch (e) {
    if (!isNibbleError(e) || e.code !== 'no-webgpu') throw e;
    return { ctx: null, why: e.message };
  }
}

export async function runBenchCli(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown }; stderr: { write(s: string): unknown } },
): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.flags.has('help') || args.flags.has('h')) {
    io.stdout.write(BENCH_USAGE);
    return 0;
  }
  if (args.positionals.length) throw new NibbleError('bad-argument', `unexpected argument "${args.positionals[0]}"`);
  if (args.values.only === 'tokenizer') return (await import('./bench-tokenizer.ts')).runTokenizerBench(args, io);
  if (args.values['scale-step'] !== undefined) return (await import('./bench-scale.ts')).runScaleStep(args, io);
  if (args.flags.has('quick') && args.flags.has('full'))
    throw new NibbleError('bad-argument', '--quick and --full exclude each other');
  const report = await runBench(args, (s) => io.stderr.write(`bench: ${s}\n`));
  if (args.flags.has('json')) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(`${formatReport(report).join('\n')}\n`);
  return 0;
}

async function runBench(args: ParsedArgs, log: (s: string) => void): Promise<BenchReport> {
  const t0 = performance.now();
  const load0 = loadavg();
  list(args, 'only', SECTIONS, DEFAULT_SECTIONS); // bad --only: fail before opening the GPU
  const { ctx, why } = await openGpu();
  try {
    return await runParts(args, ctx, why, log, t0, load0);
  } finally {
    ctx?.destroy();
  }
}

async function runParts(
  args: ParsedArgs,
  ctx: GpuContext | null,
  why: string,
  log: (s: string) => void,
  t0: number,
  load0: number[],
): Promise<BenchReport> {
  const sections = list(args, 'only', SECTIONS, DEFAULT_SECTIONS);
  const num = (name: string, fallback: number, max = 1 << 20) =>
    numberOption(args, name, fallback, { min: 1, max, integer: true });
  const adapter = ctx ? describeAdapter(ctx.adapterInfo) : null;
  const swiftshader = !!ctx && isSoftwareAdapter(ctx.adapterInfo); // software adapter: CPU timings
  const quick = args.flags.has('quick') || (!args.flags.has('full') && swiftshader);
  const q = <T>(quickValue: T, fullValue: T): T => (quick ? quickValue : fullValue);
  const seed = numberOption(args, 'seed', 1, { min: 0, max: 0xffffffff, integer: true });
  const skipped: BenchReport['skipped'] = {};

  const storiesPath = args.values.model ?? DEFAULT_MODEL.pathname;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(storiesPath));
  } catch (e) {
    throw new NibbleError('bad-argument', `cannot read the model ${storiesPath}: ${(e as Error).message}`);
  }
  const stories = parseLlama2c(bytes);
  const storiesOpts = {
    backends: ['webgpu', 'cpu'] as Backend[],
    prefillTokens: num('prefill-tokens', 64),
    prefillReps: num('prefill-reps', q(3, 5)),
    decodeTokens: num('stories-decode', q(32, 128)),
  };
  const timing = {
    targetMs: numberOption(args, 'target-ms', q(200, 50), { min: 0.01, max: 60000 }),
    maxReps: 2000,
    trials: num('trials', q(3, 7), 1000),
  };
  const matmulOpts = {
    shapes: shapes(
      args.values.shapes,
      FULL_SHAPES.map(([n, k]) => (quick ? [n / 8, k / 8] : [n, k]) as [number, number]),
    ),
    gemmM: num('gemm-m', q(16, 64), 4096),
    formats: list<MatmulFormat>(args, 'formats', MATMUL_FORMATS, MATMUL_FORMATS),
    ...timing,
    seed,
  };
  const smolConfig = {
    ...SMOL135M_CONFIG,
    nLayers: num('decode-layers', q(2, SMOL135M_CONFIG.nLayers), 1000),
    seqLen: num('seq', SMOL135M_CONFIG.seqLen, 1 << 16),
  };
  const decodeModels = list(args, 'decode-models', ['stories', 'smol135m'] as const, ['stories', 'smol135m']);
  const decodeFormats = list<DecodeFormat>(args, 'decode-formats', DECODE_FORMATS, DECODE_FORMATS);
  const decodeOpts = { tokens: num('decode-tokens', q(4, 128)), promptTokens: 1 };
  const backend = args.values['gptq-backend'] ?? (swiftshader ? 'cpu' : 'gpu');
  const cpuReason = args.values['gptq-backend']
    ? '--gptq-backend cpu'
    : 'default on SwiftShader: the WGSL quantizer emulated on the CPU took ~8 min per layer here (1 layer × 2 windows); --gptq-backend gpu times it';
  if (backend !== 'gpu' && backend !== 'cpu')
    throw new NibbleError('bad-argument', `--gptq-backend must be gpu or cpu, got "${backend}"`);
  const gptqOpts = {
    layers: num('gptq-layers', q(1, SMOL135M_CONFIG.nLayers), 1000),
    windows: num('gptq-windows', q(2, 128), 100000),
    windowTokens: num('gptq-tokens', 256, 1 << 16),
    fullLayers: SMOL135M_CONFIG.nLayers,
    fullWindows: 128,
    backend: backend as 'gpu' | 'cpu',
    cpuReason,
    seed,
  };

  let results: BackendResult[] = [];
  let matmul: BenchReport['matmul'];
  const decode: DecodeRow[] = [];
  let gptq: GptqReport | undefined;
  if (sections.includes('stories')) {
    log(`stories260K prefill/decode on ${storiesOpts.backends.join(' + ')}`);
    results = await benchStories(stories, ctx, why, storiesOpts);
  }
  if (sections.includes('matmul')) {
    if (!ctx) skipped.matmul = why;
    else {
      const timer = new GpuTimer(ctx);
      const ort = args.flags.has('no-ort')
        ? { error: 'skipped (--no-ort)' }
        : await loadOrt(await createNodeGpu(), timing);
      const ortInfo =
        'error' in ort
          ? { build: 'onnxruntime-web JSEP (ort-jsep)', error: ort.error }
          : {
              version: ort.version,
              build: 'onnxruntime-web JSEP (ort-jsep), WebGPU EP on its own device + wasm EP (1 thread)',
            };
      try {
        matmul = { ...(await benchMatmul(ctx, timer, matmulOpts, 'error' in ort ? null : ort, log)), ort: ortInfo };
      } finally {
        timer.dispose();
      }
    }
  }
  if (sections.includes('decode')) {
    if (!ctx) skipped.decode = why;
    else {
      for (const name of decodeModels) {
        const dm =
          name === 'stories'
            ? { name: 'stories260K', model: stories, sharedBlock: false }
            : {
                name: `smollm2-135m-shape (${smolConfig.nLayers} layers, seq ${smolConfig.seqLen})`,
                model: randomSharedBlockModel(smolConfig, seed),
                sharedBlock: true,
              };
        decode.push(...(await benchDecode(ctx, dm, decodeFormats, decodeOpts, log)));
      }
    }
  }
  if (sections.includes('gptq')) gptq = await benchGptq(ctx, SMOL135M_CONFIG, gptqOpts, log);
  let scale: ScaleReport | undefined;
  if (sections.includes('scale'))
    scale = await benchScale(scaleOptions(args, quick, !!ctx, swiftshader), q('quick', 'full'), log);

  const c = stories.config;
  const dispatches = results.find((r) => r.dispatchesPerToken)?.dispatchesPerToken;
  const note = swiftshader
    ? 'SwiftShader: CPU numbers, not GPU speed. The WebGPU adapter is a software Vulkan driver running on this machine\'s CPU cores; every "webgpu", kernel, bandwidth and onnxruntime-WebGPU figure here measures that emulation, not a GPU.'
    : adapter
      ? `A model this small is bound by per-dispatch and per-submit latency, not bandwidth: ${dispatches ?? '?'} dispatches and 1 submit per decoded token.`
      : 'WebGPU did not run; CPU numbers only.';
  return {
    device: {
      adapter,
      swiftshader,
      note,
      timestampQuery: ctx?.device.features.has('timestamp-query') ?? false,
      kernels: ctx?.kernels.label ?? null,
      cpuCores: cpus().length,
      loadAverage: { start: load0.map(r2), end: loadavg().map(r2) },
      node: process.version,
    },
    mode: quick ? 'quick' : 'full',
    params: {
      sections,
      seed,
      stories: storiesOpts,
      matmul: sections.includes('matmul') ? matmulOpts : undefined,
      decode: { models: decodeModels, formats: decodeFormats, ...decodeOpts, smol135m: smolConfig },
      gptq: gptqOpts,
    },
    model: {
      path: storiesPath,
      dim: c.dim,
      layers: c.nLayers,
      heads: c.nHeads,
      kvHeads: c.nKvHeads,
      vocab: c.vocabSize,
      seqLen: c.seqLen,
      params: paramCount(stories),
    },
    adapter,
    kernels: ctx?.kernels.label ?? null,
    swiftshader,
    results,
    note,
    ...(matmul ? { matmul } : {}),
    ...(decode.length ? { decode } : {}),
    ...(gptq ? { gptq } : {}),
    ...(scale ? { scale } : {}),
    skipped,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    date: new Date().toISOString(),
  };
}
