// `nibble bench --only scale` (issue 11, "Measured"): real-size model shapes end to end. Per
// synthetic checkpoint (src/core/formats/synthetic.ts: published config.json, seeded bf16
// weights, written to disk one tensor at a time) it runs each step as its own child process
// `node bin/nibble.mjs …`, so that the step's peak RSS is its own (a process's high-water mark
// only grows): the child reports process.resourceUsage().maxRSS at exit through a preloaded
// data: module, and the parent reads it from a temp file.
//   load    `nibble bench --scale-step load`: open the folder (host seconds), build the runner
//           (upload + pipelines), runner.memory() (GPU bytes by kind), greedy decode tok/s
//   rtn     `nibble quantize --method rtn --bits 4 --group 32` (the target command)
//   gptq    `nibble quantize --method gptq --bits 4 --group 32 --backend B` on N calibration windows
//   eval    `nibble eval --method fp32` on N windows: perplexity-eval seconds
// Quick mode (SwiftShader default) keeps 2 layers of each shape at the full vocabulary; full mode
// runs the published depth. docs/bench.md explains every figure.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NibbleError } from '../core/errors.ts';
import {
  SYNTHETIC_FAMILIES,
  syntheticConfig,
  syntheticSafetensorsChunks,
  syntheticSideFiles,
  type SyntheticFamily,
  type SyntheticOptions,
} from '../core/formats/synthetic.ts';
import type { RunnerMemory } from '../engine/runner.ts';
import { numberOption, type ParsedArgs } from './args.ts';
import type { CliIo } from './cli-io.ts';

// Not bench-util.ts's: it loads the GPU modules, and scripts/make-synthetic.mjs imports this file
// through tsx without the WGSL hooks.
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
const sig = (x: number, digits = 3): number => Number(x.toPrecision(digits));

export const SCALE_STEPS = ['load', 'rtn', 'gptq', 'eval'] as const;
export type ScaleStep = (typeof SCALE_STEPS)[number];
export const SCALE_DEFAULT_MODELS: readonly SyntheticFamily[] = ['smollm2-135m', 'qwen2.5-0.5b', 'llama-3.2-1b'];
/** The target: peak RSS of the RTN int4 g32 quantize ≤ 1.5 × the checkpoint file. */
export const RTN_RSS_TARGET = 1.5;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NIBBLE = join(ROOT, 'bin/nibble.mjs');
const CALIB_TEXT = join(ROOT, 'public/data/tinystories-calib.txt');
const EVAL_TEXT = join(ROOT, 'public/data/tinystories-eval.txt');
/** The decode prompt (some families have no BOS to start an empty prompt from). */
const PROMPT = 'Once upon a time';
/** Preloaded into every child: writes its peak RSS in bytes to $NIBBLE_PEAK_FILE at exit. */
const PEAK_PRELOAD =
  'data:text/javascript,' +
  encodeURIComponent(
    `import{writeFileSync}from'node:fs';process.on('exit',()=>{const f=process.env.NIBBLE_PEAK_FILE;if(f)writeFileSync(f,String(process.resourceUsage().maxRSS*1024))})`,
  );

/** A child process's outcome: wall seconds, peak RSS, its stdout; `error` = the last stderr lines. */
export interface ChildRun {
  command: string;
  seconds: number;
  peakRssBytes: number | null;
  exitCode: number | null;
  error?: string;
}

export interface LoadStepResult {
  params: number;
  hostLoadSeconds: number; // folder → LlamaModel + tokenizer (headers, reads, bf16 decode)
  runnerSeconds: number; // runner build: upload + pipelines (webgpu), or CPU runner setup
  backend: 'webgpu' | 'cpu';
  memory: (RunnerMemory & { kinds: Record<string, number> }) | null; // null on the CPU runner
  decode: { tokens: number; tokensPerSecond: number; msPerToken: number; prefillMs: number };
}

export interface ScaleModelRow {
  family: SyntheticFamily;
  layers: number;
  publishedLayers: number;
  vocab: number;
  dir: string;
  fileBytes: number; // model.safetensors (bf16)
  writeSeconds: number | null; // null: reused an existing folder (--scale-dir)
  load?: ChildRun & { result?: LoadStepResult };
  rtn?: ChildRun & { outBytes?: number; rssOverFile?: number; meetsTarget?: boolean };
  gptq?: ChildRun & { backend: string; windows: number; windowTokens: number; outBytes?: number };
  eval?: ChildRun & { backend: string; windows: number; windowTokens: number; ppl?: number; evalSeconds?: number };
}

export interface ScaleReport {
  mode: 'quick' | 'full';
  layersNote: string;
  steps: ScaleStep[];
  gptqModels: SyntheticFamily[];
  backend: 'webgpu' | 'cpu';
  gptqBackend: 'webgpu' | 'cpu';
  evalBackend: 'webgpu' | 'cpu';
  rtnBackend: string;
  target: { rtnPeakRssOverFile: number; note: string };
  models: ScaleModelRow[];
}

export interface ScaleOptions {
  models: SyntheticFamily[];
  layers: number | null; // null: the published depth
  steps: ScaleStep[];
  gptqModels: SyntheticFamily[]; // GPTQ runs on these only (quick: the 135M shape)
  tokens: number;
  windows: number;
  windowTokens: number;
  gptqWindows: number;
  backend: 'webgpu' | 'cpu';
  gptqBackend: 'webgpu' | 'cpu';
  evalBackend: 'webgpu' | 'cpu';
  rtnBackend: 'auto' | 'webgpu' | 'cpu';
  dir: string | null; // keep the folders here (reused when their config matches); else a temp dir
}

/** Writes the synthetic folder of `opts` into `dir` (model.safetensors streamed); bytes per file. */
export async function writeSyntheticFolder(opts: SyntheticOptions, dir: string): Promise<Record<string, number>> {
  mkdirSync(dir, { recursive: true });
  const sizes: Record<string, number> = {};
  for (const [name, bytes] of syntheticSideFiles(opts)) {
    writeFileSync(join(dir, name), bytes);
    sizes[name] = bytes.byteLength;
  }
  const out = createWriteStream(join(dir, 'model.safetensors'));
  let total = 0;
  for (const chunk of syntheticSafetensorsChunks(syntheticConfig(opts), opts.seed)) {
    total += chunk.byteLength;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  sizes['model.safetensors'] = total;
  return sizes;
}

/** `node <preload> bin/nibble.mjs …args`: wall time, peak RSS (bytes), stdout. */
async function runChild(args: string[], log: (s: string) => void): Promise<ChildRun & { stdout: string }> {
  const peakFile = join(mkdtempSync(join(tmpdir(), 'nibble-peak-')), 'peak');
  const command = `nibble ${args.join(' ')}`;
  log(`  ${command}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, [`--import=${PEAK_PRELOAD}`, NIBBLE, ...args], {
    cwd: ROOT,
    env: { ...process.env, NIBBLE_PEAK_FILE: peakFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const [code] = (await once(child, 'close')) as [number | null];
  const seconds = round((performance.now() - t0) / 1000, 1);
  const peak = existsSync(peakFile) ? Number(readFileSync(peakFile, 'utf8')) : NaN;
  rmSync(peakFile, { force: true });
  const run: ChildRun & { stdout: string } = {
    command,
    seconds,
    peakRssBytes: Number.isFinite(peak) ? peak : null,
    exitCode: code,
    stdout,
  };
  if (code !== 0) {
    run.error = stderr.trim().split('\n').slice(-3).join('\n');
    log(`  failed (exit ${code}): ${run.error}`);
  } else log(`  ${seconds} s, peak RSS ${mb(run.peakRssBytes)}`);
  return run;
}

const mb = (b: number | null): string => (b === null ? '?' : `${(b / 1e6).toFixed(0)} MB`);
const jsonOf = <T>(run: { stdout: string; exitCode: number | null }): T | undefined => {
  if (run.exitCode !== 0) return undefined;
  const at = run.stdout.indexOf('{');
  return at < 0 ? undefined : (JSON.parse(run.stdout.slice(at)) as T);
};
const strip = <T extends { stdout: string }>(r: T): Omit<T, 'stdout'> => {
  const { stdout: _, ...rest } = r;
  return rest;
};

/** The folder of one family: reused when --scale-dir already holds one with the same config.json. */
async function folderFor(
  family: SyntheticFamily,
  layers: number | null,
  root: string,
  log: (s: string) => void,
): Promise<{ dir: string; config: Record<string, unknown>; writeSeconds: number | null }> {
  const opts: SyntheticOptions = { family, ...(layers !== null ? { layers } : {}) };
  const config = syntheticConfig(opts);
  const dir = join(root, `${family}-${config.num_hidden_layers as number}l`);
  const configFile = join(dir, 'config.json');
  const sameConfig =
    existsSync(configFile) &&
    existsSync(join(dir, 'model.safetensors')) &&
    readFileSync(configFile, 'utf8') === new TextDecoder().decode(syntheticSideFiles(opts).get('config.json'));
  if (sameConfig) {
    log(`${family}: reusing ${dir}`);
    return { dir, config, writeSeconds: null };
  }
  log(`${family}: writing ${dir} (${config.num_hidden_layers as number} layers)`);
  const t0 = performance.now();
  await writeSyntheticFolder(opts, dir);
  return { dir, config, writeSeconds: round((performance.now() - t0) / 1000, 1) };
}

export async function benchScale(opts: ScaleOptions, mode: 'quick' | 'full', log: (s: string) => void) {
  const root = opts.dir ?? mkdtempSync(join(tmpdir(), 'nibble-scale-'));
  const scratch = mkdtempSync(join(tmpdir(), 'nibble-scale-out-'));
  const models: ScaleModelRow[] = [];
  try {
    for (const family of opts.models) {
      const { dir, config, writeSeconds } = await folderFor(family, opts.layers, root, log);
      const published = syntheticConfig({ family }).num_hidden_layers as number;
      const fileBytes = (await stat(join(dir, 'model.safetensors'))).size;
      const row: ScaleModelRow = {
        family,
        layers: config.num_hidden_layers as number,
        publishedLayers: published,
        vocab: config.vocab_size as number,
        dir,
        fileBytes,
        writeSeconds,
      };
      models.push(row);
      const out = join(scratch, `${family}.nibble`);
      const outBytes = async () => (await stat(out).catch(() => null))?.size;
      const text = ['--windows', String(opts.windows), '--window-len', String(opts.windowTokens)];
      if (opts.steps.includes('load')) {
        const run = await runChild(
          ['bench', '--scale-step', 'load', '--model', dir, '--scale-tokens', String(opts.tokens)].concat([
            '--scale-backend',
            opts.backend,
          ]),
          log,
        );
        row.load = { ...strip(run), result: jsonOf<LoadStepResult>(run) };
      }
      if (opts.steps.includes('rtn')) {
        const backend = opts.rtnBackend === 'auto' ? [] : ['--backend', opts.rtnBackend];
        const run = await runChild(
          ['quantize', '--model', dir, '--method', 'rtn', '--bits', '4', '--group', '32', ...backend, '--out', out],
          log,
        );
        const ratio = run.peakRssBytes !== null ? run.peakRssBytes / fileBytes : undefined;
        row.rtn = {
          ...strip(run),
          outBytes: await outBytes(),
          ...(ratio !== undefined && run.exitCode === 0
            ? { rssOverFile: round(ratio, 2), meetsTarget: ratio <= RTN_RSS_TARGET }
            : {}),
        };
        rmSync(out, { force: true });
      }
      if (opts.steps.includes('gptq') && opts.gptqModels.includes(family)) {
        const run = await runChild(
          ['quantize', '--model', dir, '--method', 'gptq', '--bits', '4', '--group', '32']
            .concat(['--calib-text', CALIB_TEXT, '--windows', String(opts.gptqWindows)])
            .concat(['--window-len', String(opts.windowTokens), '--backend', opts.gptqBackend, '--out', out]),
          log,
        );
        row.gptq = {
          ...strip(run),
          backend: opts.gptqBackend,
          windows: opts.gptqWindows,
          windowTokens: opts.windowTokens,
          outBytes: await outBytes(),
        };
        rmSync(out, { force: true });
      }
      if (opts.steps.includes('eval')) {
        const run = await runChild(
          ['eval', '--model', dir, '--method', 'fp32', '--eval-text', EVAL_TEXT, ...text].concat([
            '--backend',
            opts.evalBackend,
            '--json',
          ]),
          log,
        );
        const r = jsonOf<{ ppl: number; seconds: number }>(run);
        row.eval = {
          ...strip(run),
          backend: opts.evalBackend,
          windows: opts.windows,
          windowTokens: opts.windowTokens,
          ...(r ? { ppl: sig(r.ppl, 6), evalSeconds: round(r.seconds, 2) } : {}),
        };
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (!opts.dir) rmSync(root, { recursive: true, force: true });
  }
  const report: ScaleReport = {
    mode,
    layersNote:
      opts.layers === null
        ? 'full depth: every shape has its published num_hidden_layers'
        : `${opts.layers} layers per shape (quick; the published depths are 30, 24, 28, 16): per-layer figures scale with depth, the embedding (full vocabulary) does not`,
    steps: opts.steps,
    gptqModels: opts.gptqModels,
    backend: opts.backend,
    gptqBackend: opts.gptqBackend,
    evalBackend: opts.evalBackend,
    rtnBackend: opts.rtnBackend,
    target: {
      rtnPeakRssOverFile: RTN_RSS_TARGET,
      note: 'peak RSS of `nibble quantize --method rtn --bits 4 --group 32` ÷ the bf16 model.safetensors size; the issue measures it on the full-depth Qwen2.5-0.5B shape',
    },
    models,
  };
  return report;
}

/** The scale options of `nibble bench` (defaults by mode; see BENCH_USAGE). */
export function scaleOptions(args: ParsedArgs, quick: boolean, hasGpu: boolean, swiftshader: boolean): ScaleOptions {
  const pick = <T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] => {
    const raw = args.values[name];
    if (raw === undefined) return [...fallback];
    const items = raw.split(',').map((s) => s.trim());
    const bad = items.find((s) => !(allowed as readonly string[]).includes(s));
    if (bad !== undefined)
      throw new NibbleError('bad-argument', `--${name}: "${bad}" is not one of ${allowed.join(', ')}`);
    return items as T[];
  };
  const one = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const v = pick(name, allowed, [fallback]);
    if (v.length !== 1) throw new NibbleError('bad-argument', `--${name} takes one of ${allowed.join(', ')}`);
    return v[0];
  };
  const num = (name: string, fallback: number, max = 1 << 16) =>
    numberOption(args, name, fallback, { min: 1, max, integer: true });
  const gpu = hasGpu ? 'webgpu' : 'cpu';
  return {
    models: pick('scale-models', SYNTHETIC_FAMILIES, SCALE_DEFAULT_MODELS),
    layers: args.values['scale-layers'] !== undefined ? num('scale-layers', 2, 1000) : quick ? 2 : null,
    steps: pick('scale-steps', SCALE_STEPS, SCALE_STEPS),
    gptqModels: pick('scale-gptq-models', SYNTHETIC_FAMILIES, quick ? ['smollm2-135m'] : SYNTHETIC_FAMILIES),
    tokens: num('scale-tokens', quick ? 2 : 32),
    windows: num('scale-windows', quick ? 1 : 4),
    windowTokens: num('scale-window-len', quick ? 32 : 128),
    gptqWindows: num('scale-gptq-windows', quick ? 1 : 8),
    backend: one('scale-backend', ['webgpu', 'cpu'], gpu),
    // On SwiftShader the WGSL quantizer takes minutes per layer and one 32-token eval window of the
    // 0.5B shape took 184 s on the GPU runner (CPU runner: seconds): both run on the CPU there.
    gptqBackend: one('scale-gptq-backend', ['webgpu', 'cpu'], hasGpu && !swiftshader ? 'webgpu' : 'cpu'),
    evalBackend: one('scale-eval-backend', ['webgpu', 'cpu'], hasGpu && !swiftshader ? 'webgpu' : 'cpu'),
    rtnBackend: one('scale-rtn-backend', ['auto', 'webgpu', 'cpu'], 'auto'),
    dir: args.values['scale-dir'] ?? null,
  };
}

/**
 * The child side of the load step (`nibble bench --scale-step load --model DIR`): prints one JSON
 * LoadStepResult on stdout. Runs in its own process so that its peak RSS is the load's.
 */
export async function runScaleStep(args: ParsedArgs, io: CliIo): Promise<number> {
  const step = args.values['scale-step'];
  if (step !== 'load') throw new NibbleError('bad-argument', `--scale-step: "${step}" is not load`);
  const [{ loadModel, openBackend, createRunner }, { countParams }, { generate }] = await Promise.all([
    import('./model-files.ts'),
    import('../worker/sources/model-source.ts'),
    import('../engine/generate.ts'),
  ]);
  const tokens = numberOption(args, 'scale-tokens', 4, { min: 1, max: 1 << 16, integer: true });
  const backend = args.values['scale-backend'] === 'cpu' ? 'cpu' : 'webgpu';
  let t0 = performance.now();
  const loaded = await loadModel(io, args.values.model, undefined);
  const hostLoadSeconds = (performance.now() - t0) / 1000;
  const ctx = await openBackend(io, backend);
  try {
    t0 = performance.now();
    const runner = await createRunner(ctx, loaded.model);
    const runnerSeconds = (performance.now() - t0) / 1000;
    try {
      const res = await generate(runner, loaded.tokenizer, PROMPT, {
        maxTokens: tokens,
        temperature: 0,
        topP: 1,
        seed: 1,
      });
      const m = runner.memory?.() ?? null;
      const result: LoadStepResult = {
        params: countParams(loaded.model),
        hostLoadSeconds: round(hostLoadSeconds, 2),
        runnerSeconds: round(runnerSeconds, 2),
        backend,
        memory: m && {
          ...m,
          kinds: { weights: m.weightBytes, kvCache: m.kvCacheBytes, activations: m.activationBytes },
        },
        decode: {
          tokens: res.tokens.length,
          tokensPerSecond: sig(res.decodeTokensPerSecond),
          msPerToken: sig(1000 / res.decodeTokensPerSecond),
          prefillMs: round(res.prefillMs, 1),
        },
      };
      io.stdout.write(`${JSON.stringify(result)}\n`);
    } finally {
      runner.dispose();
    }
  } finally {
    ctx?.destroy();
  }
  return 0;
}
