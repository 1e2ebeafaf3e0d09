// Loading what the CLI is pointed at: a llama2.c checkpoint (+ tokenizer.bin) or a .nibble
// file (which may carry its tokenizer), and opening the backend that runs it.
import { readFile } from 'node:fs/promises';
import { isNibbleError, NibbleError } from '../core/errors.ts';
import { parseLlama2c } from '../core/llama2c.ts';
import type { LlamaModel } from '../core/model.ts';
import { isNibbleFile } from '../core/nibble-file.ts';
import { readNibbleFile } from '../core/nibble-file-read.ts';
import type { TextTokenizer } from '../core/text-tokenizer.ts';
import { Tokenizer } from '../core/tokenizer.ts';
import { createCpuRunner } from '../engine/cpu-runner.ts';
import type { ModelRunner } from '../engine/runner.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { CliIo } from './main.ts';

export interface LoadedModel {
  model: LlamaModel;
  tokenizer: TextTokenizer;
  tokenizerBytes: Uint8Array;
  label: string | null; // a .nibble file's variant label
}

export async function readInput(io: CliIo, flag: string, path: string | undefined): Promise<Uint8Array> {
  if (!path) throw new NibbleError('bad-argument', `--${flag} FILE is required`);
  try {
    return io.readFile ? await io.readFile(path) : new Uint8Array(await readFile(path));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new NibbleError('bad-argument', `cannot read --${flag} ${path}: ${why}`);
  }
}

/** --model (llama2.c .bin or .nibble) and --tokenizer (optional when the .nibble carries one). */
export async function loadModel(io: CliIo, modelPath: string | undefined, tokPath: string | undefined): Promise<LoadedModel> {
  const bytes = await readInput(io, 'model', modelPath);
  let model: LlamaModel;
  let embedded: Uint8Array | null = null;
  let label: string | null = null;
  if (isNibbleFile(bytes)) {
    const f = readNibbleFile(bytes);
    model = f.model;
    embedded = f.tokenizer;
    label = f.label;
  } else {
    model = parseLlama2c(bytes);
  }
  const tokenizerBytes = tokPath !== undefined ? await readInput(io, 'tokenizer', tokPath) : embedded;
  if (!tokenizerBytes) throw new NibbleError('bad-argument', '--tokenizer FILE is required (the model file carries no tokenizer)');
  return { model, tokenizer: Tokenizer.fromLlama2c(tokenizerBytes, model.config.vocabSize), tokenizerBytes, label };
}

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

export function backendOption(raw: string | undefined): BackendChoice {
  const b = raw ?? 'auto';
  if (b !== 'auto' && b !== 'webgpu' && b !== 'cpu') throw new NibbleError('bad-argument', `--backend must be auto, webgpu or cpu, got "${b}"`);
  return b;
}

async function openDawn(): Promise<GpuContext> {
  const { createNodeGpuContext } = await import('./dawn.ts');
  return createNodeGpuContext();
}

/** The GPU context for a backend choice: null for cpu, or for auto when WebGPU is missing (noted on stderr). */
export async function openBackend(io: CliIo, backend: BackendChoice): Promise<GpuContext | null> {
  if (backend === 'cpu') return null;
  try {
    return await (io.openGpu ?? openDawn)();
  } catch (e) {
    if (backend === 'webgpu' || !isNibbleError(e) || e.code !== 'no-webgpu') throw e;
    io.stderr.write(`nibble: WebGPU unavailable (${e.message}); using the CPU backend\n`);
    return null;
  }
}

export async function createRunner(ctx: GpuContext | null, model: LlamaModel): Promise<ModelRunner> {
  if (!ctx) return createCpuRunner(model);
  const { createGpuRunner } = await import('../engine/gpu-runner.ts');
  return createGpuRunner(ctx, model);
}
