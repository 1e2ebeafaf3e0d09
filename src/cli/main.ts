// nibble CLI. `main(argv, io)` returns the exit code (0 ok, 2 NibbleError or bad arguments,
// 1 anything unexpected) and never exits the process itself. stdout carries only generated
// text (streamed); statistics, notes and errors go to stderr.
import { isNibbleError, NibbleError } from '../core/errors.ts';
import { generate, renderChat, type Prompt } from '../engine/generate.ts';
import type { ModelRunner } from '../engine/runner.ts';
import { describeAdapter, type GpuContext } from '../gpu/device.ts';
import { numberOption, parseArgs } from './args.ts';
import type { CliIo } from './cli-io.ts';
import { backendOption, createRunner, loadModel, openBackend } from './model-files.ts';
import { EXPORT_USAGE, runExport } from './export-command.ts';
import { QUANT_USAGE, runEval, runQuantize } from './quant-commands.ts';

export type { CliIo };

export const USAGE = `nibble — run small Llama models with WebGPU (Dawn) or on the CPU

Usage:
  nibble generate --model FILE --tokenizer FILE [options]
  nibble eval --model FILE [--tokenizer FILE] --text FILE --method M [options] [--json]
  nibble quantize --model FILE [--tokenizer FILE] --method M [options] --out FILE
  nibble export --model FILE [--tokenizer FILE] [--method M options] --format F --out PATH
  nibble bench [--json] [--quick | --full] [options]   (nibble bench --help)
  nibble --help

generate: writes only the generated text to stdout (streamed, then a newline);
statistics (tokens/s, backend, adapter, seed) go to stderr.
  --model PATH         llama2.c checkpoint (.bin), .nibble file (\`nibble quantize\`), GGUF file,
                       or a Hugging Face folder (config.json, *.safetensors, tokenizer.json)
  --tokenizer FILE     llama2.c tokenizer.bin or tokenizer.json (optional when the model carries one)
  --prompt TEXT        start of the text (default: empty, generation starts from BOS)
  --chat               send --prompt as one user message through the model's chat template
                       (HF tokenizer_config.json chat_template or chat_template.jinja); the
                       template writes BOS and the turn markers, generation stops at its end token
  --system TEXT        with --chat: a system message before the user's
  --steps N            tokens to generate (default 256)
  --temperature F      0 = greedy (default 0.8)
  --top-p F            nucleus sampling mass in (0, 1] (default 0.9)
  --seed N             sampling seed 0..4294967295 (default: from the clock; printed)
  --backend B          auto | webgpu | cpu (default auto: WebGPU, else CPU with a note)
  --ctx N              context length (KV cache positions): GGUF as llama.cpp's -c (default the
                       file's); other formats 1..the model's own (default min(own, 2048))

bench: stories260K prefill/decode tok/s (WebGPU and CPU), int4/int8 matmul µs and GB/s vs
a stream kernel and onnxruntime-web, decode tok/s of a 135M-shaped model, GPTQ time;
--json prints the report as JSON on stdout (docs/bench.md explains every figure).

${QUANT_USAGE}${EXPORT_USAGE}
Exit codes: 0 success, 2 invalid input (arguments, model or tokenizer files), 1 internal error.
`;

const GENERATE_SPEC = {
  model: { kind: 'string' },
  tokenizer: { kind: 'string' },
  prompt: { kind: 'string' },
  steps: { kind: 'string' },
  temperature: { kind: 'string' },
  'top-p': { kind: 'string' },
  seed: { kind: 'string' },
  backend: { kind: 'string' },
  ctx: { kind: 'string' },
  chat: { kind: 'flag' },
  system: { kind: 'string' },
  help: { kind: 'flag' },
  h: { kind: 'flag' },
} as const;

const defaultIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr });

async function runGenerate(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, GENERATE_SPEC);
  if (args.flags.has('help') || args.flags.has('h')) {
    io.stdout.write(USAGE);
    return 0;
  }
  if (args.positionals.length) throw new NibbleError('bad-argument', `unexpected argument "${args.positionals[0]}"`);
  const steps = numberOption(args, 'steps', 256, { min: 1, max: 1 << 20, integer: true });
  const temperature = numberOption(args, 'temperature', 0.8, { min: 0, max: 100 });
  const topP = numberOption(args, 'top-p', 0.9, { min: 0, max: 1 });
  if (topP === 0) throw new NibbleError('bad-argument', '--top-p must be greater than 0');
  const seed = numberOption(args, 'seed', Date.now() % 0x100000000, { min: 0, max: 0xffffffff, integer: true });
  const backend = args.values.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'webgpu' && backend !== 'cpu') {
    throw new NibbleError('bad-argument', `--backend must be auto, webgpu or cpu, got "${backend}"`);
  }

  const chat = args.flags.has('chat');
  if (args.values.system !== undefined && !chat)
    throw new NibbleError('bad-argument', '--system needs --chat (it is a chat message)');

  const contextLength =
    args.values.ctx === undefined ? undefined : numberOption(args, 'ctx', 0, { min: 2, max: 1 << 16, integer: true });
  const { model, tokenizer, label } = await loadModel(io, args.values.model, args.values.tokenizer, { contextLength });
  const text = args.values.prompt ?? '';
  // --chat: one user message (after an optional system one) rendered by the template, which
  // writes its own special tokens: nothing is added when it is tokenized (engine/generate.ts).
  const prompt: Prompt = chat
    ? renderChat(tokenizer, [
        ...(args.values.system !== undefined ? [{ role: 'system', content: args.values.system }] : []),
        { role: 'user', content: text },
      ])
    : text;
  const ctx = await openBackend(io, backendOption(backend));
  let runner: ModelRunner;
  try {
    runner = await createRunner(ctx, model);
    try {
      const res = await generate(runner, tokenizer, prompt, { maxTokens: steps, temperature, topP, seed }, (ev) =>
        io.stdout.write(ev.text),
      );
      io.stdout.write('\n');
      const r = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
      io.stderr.write(
        `nibble: ${res.tokens.length} tokens, ${r(res.decodeTokensPerSecond)} tok/s decode, ` +
          `prefill ${res.promptTokens} tokens in ${res.prefillMs.toFixed(1)} ms, stopped by ${res.stoppedBy}\n`,
      );
      const device = ctx ? `webgpu on ${describe(ctx)}` : 'cpu';
      io.stderr.write(
        `nibble: backend ${device}; ${label ? `variant ${label}; ` : ''}${chat ? 'chat template; ' : ''}seed ${seed}, temperature ${temperature}, top-p ${topP}\n`,
      );
    } finally {
      runner.dispose();
    }
  } finally {
    ctx?.destroy();
  }
  return 0;
}

const describe = (ctx: GpuContext): string => `${describeAdapter(ctx.adapterInfo)}, kernels ${ctx.kernels.label}`;

async function runBenchCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { runBenchCli } = await import('./bench.ts'); // its options: nibble bench --help
  return runBenchCli(argv, io);
}

export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.stderr.write(USAGE);
        return 2;
      case '--help':
      case '-h':
      case 'help':
        io.stdout.write(USAGE);
        return 0;
      case 'generate':
        return await runGenerate(rest, io);
      case 'bench':
        return await runBenchCommand(rest, io);
      case 'eval':
        return await runEval(rest, io);
      case 'quantize':
        return await runQuantize(rest, io);
      case 'export':
        return await runExport(rest, io);
      default:
        throw new NibbleError('bad-argument', `unknown command "${command}"`);
    }
  } catch (e) {
    if (isNibbleError(e)) {
      io.stderr.write(`nibble: error [${e.code}]: ${e.message}\n`);
      if (e.code === 'bad-argument') io.stderr.write('Run `nibble --help` for usage.\n');
      return 2;
    }
    io.stderr.write(`nibble: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}
