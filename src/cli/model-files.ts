// Loading what the CLI is pointed at — a llama2.c checkpoint, a .nibble file, a GGUF file or a
// Hugging Face folder, with its tokenizer — and opening the backend that runs it.
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { isNibbleError, NibbleError } from '../core/errors.ts';
import type { LlamaModel } from '../core/model/model.ts';
import {
  bytesReader,
  chooseContext,
  openCheckpoint,
  openHfFolder,
  tokenizerFilesOf,
  type OpenedModel,
} from '../core/formats/model-open.ts';
import type { TextTokenizer } from '../core/tokenizers/text-tokenizer.ts';
import { detectModelFormat } from '../core/formats/hf/detect.ts';
import type { ModelFolder } from '../core/formats/hf/load.ts';
import type { TokenizerFiles } from '../core/tokenizers/tokenizer-files.ts';
import { createCpuRunner } from '../engine/cpu-runner.ts';
import type { ModelRunner } from '../engine/runner.ts';
import type { GpuContext } from '../gpu/device.ts';
import type { CliIo } from './cli-io.ts';

export interface LoadedModel {
  model: LlamaModel;
  tokenizer: TextTokenizer;
  tokenizerFiles: TokenizerFiles; // what the tokenizer was made from (saved into .nibble files)
  label: string | null; // a .nibble file's variant label
  ownContext: number; // the file's own context; model.config.seqLen may be shorter (--ctx, default cap)
}

/** The model as files should describe it: with its own context, not the one it runs with. */
export const withOwnContext = (loaded: LoadedModel, model: LlamaModel): LlamaModel => ({
  ...model,
  config: { ...model.config, seqLen: loaded.ownContext },
});

/** Plain words for a Node file-system error (no raw ERR_* / ENAMETOOLONG codes in messages). */
function fsWhy(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'ENAMETOOLONG') return 'the name is too long';
  if (code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE') return 'the name is not a valid file name';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return (e as Error).message;
}

/**
 * Only regular files (or links to them) are read: a FIFO, socket or device would block forever
 * or stream without end. Returns false when `path` does not exist.
 */
async function requireRegularFile(path: string, what: string): Promise<boolean> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new NibbleError('bad-argument', `cannot read ${what} ${JSON.stringify(path.slice(0, 200))}: ${fsWhy(e)}`);
  }
  if (!st.isFile()) {
    const kind = st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a named pipe' : 'not a regular file';
    throw new NibbleError('bad-argument', `cannot read ${what} ${path}: it is ${kind}, not a regular file`);
  }
  return true;
}

export async function readInput(io: CliIo, flag: string, path: string | undefined): Promise<Uint8Array> {
  if (!path) throw new NibbleError('bad-argument', `--${flag} FILE is required`);
  if (!io.readFile && !(await requireRegularFile(path, `--${flag}`)))
    throw new NibbleError('bad-argument', `cannot read --${flag} ${path}: no such file`);
  try {
    return io.readFile ? await io.readFile(path) : new Uint8Array(await readFile(path));
  } catch (e) {
    throw new NibbleError('bad-argument', `cannot read --${flag} ${path}: ${fsWhy(e)}`);
  }
}

/** A file name a folder (or a shard index inside it) asks for: one plain name, no separators or NUL. */
function folderEntry(dir: string, name: string): string {
  if (name.length === 0 || name.length > 255 || /[\0/\\]/.test(name) || name === '.' || name === '..')
    throw new NibbleError(
      'bad-format',
      `the model folder names a file ${JSON.stringify(name.slice(0, 80))}${name.length > 80 ? '…' : ''}: not a plain file name of 1..255 characters`,
    );
  return join(dir, name);
}

/** A Node folder for the HF loader: whole-file reads for JSON, ranged reads for safetensors. */
function nodeFolder(dir: string): ModelFolder & { close(): Promise<void> } {
  const full = (name: string) => folderEntry(dir, basename(name));
  const handles: FileHandle[] = [];
  return {
    close: async () => {
      await Promise.all(handles.splice(0).map((h) => h.close()));
    },
    async get(name) {
      const path = full(name);
      if (!(await requireRegularFile(path, 'model file'))) return undefined;
      try {
        return new Uint8Array(await readFile(path));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new NibbleError('bad-argument', `cannot read ${path}: ${fsWhy(e)}`);
      }
    },
    async open(name) {
      const path = full(name);
      if (!(await requireRegularFile(path, 'model file'))) return undefined;
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new NibbleError('bad-argument', `cannot open ${path}: ${fsWhy(e)}`);
      }
      handles.push(fh);
      const { size } = await fh.stat();
      return {
        size,
        read: async (offset: number, length: number) => {
          const buf = new Uint8Array(length);
          const { bytesRead } = await fh.read(buf, 0, length, offset);
          return bytesRead === length ? buf : buf.subarray(0, bytesRead);
        },
      };
    },
  };
}

/**
 * --model: a llama2.c .bin, a .nibble file, a GGUF file, or a Hugging Face model folder.
 * --tokenizer: a llama2.c tokenizer.bin (or tokenizer.json); optional when the model carries one.
 */
export async function loadModel(
  io: CliIo,
  modelPath: string | undefined,
  tokPath: string | undefined,
  opts: { contextLength?: number } = {},
): Promise<LoadedModel> {
  if (!modelPath) throw new NibbleError('bad-argument', '--model FILE is required');
  let isDir = false;
  try {
    isDir = !io.readFile && (await stat(modelPath)).isDirectory();
  } catch {
    /* readInput reports a missing file */
  }
  const readTokenizer = async () =>
    tokPath === undefined ? null : tokenizerFilesOf(await readInput(io, 'tokenizer', tokPath));
  const missingTokenizer = '--tokenizer FILE is required (the model file carries no tokenizer)';
  let opened: OpenedModel;
  let ownContext: number | undefined; // set by chooseContext (GGUF: the context asked for is the file's)
  if (isDir) {
    const folder = nodeFolder(modelPath);
    try {
      opened = await openHfFolder(folder, {
        chooseContext: (own) => chooseContext(opts.contextLength, (ownContext = own)),
        tokenizer: await readTokenizer(),
        missingTokenizer,
      });
    } finally {
      await folder.close();
    }
  } else {
    const bytes = await readInput(io, 'model', modelPath);
    if (detectModelFormat(bytes) === 'safetensors') {
      throw new NibbleError(
        'bad-argument',
        `${modelPath} is a safetensors file: pass the model's folder (with config.json and tokenizer.json) as --model`,
      );
    }
    // --ctx is llama.cpp's -c for GGUF files (any length, default the file's); other formats run
    // with min(own, DEFAULT_CONTEXT) unless --ctx (1..own) says otherwise.
    const gguf = detectModelFormat(bytes) === 'gguf';
    opened = await openCheckpoint(bytesReader(bytes), {
      ...(gguf
        ? { contextLength: opts.contextLength }
        : { chooseContext: (own: number) => chooseContext(opts.contextLength, (ownContext = own)) }),
      tokenizer: await readTokenizer(),
      missingTokenizer,
    });
  }
  return {
    model: opened.model,
    tokenizer: opened.tokenizer,
    tokenizerFiles: opened.tokenizerFiles,
    label: opened.label,
    ownContext: ownContext ?? opened.model.config.seqLen,
  };
}

export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

export function backendOption(raw: string | undefined): BackendChoice {
  const b = raw ?? 'auto';
  if (b !== 'auto' && b !== 'webgpu' && b !== 'cpu')
    throw new NibbleError('bad-argument', `--backend must be auto, webgpu or cpu, got "${b}"`);
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
