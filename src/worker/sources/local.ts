// What the user's files are ('files' sources): a Hugging Face folder (a config.json among them),
// or one checkpoint (llama2.c .bin, .gguf, .nibble: told apart by content, never by name) with
// an optional tokenizer (llama2.c tokenizer .bin, or tokenizer.json [+ tokenizer_config.json]).
// Only each file's first bytes are read here. Paths from a chosen or dropped directory carry its
// name ('stories/config.json'): a root shared by every path is stripped first.
import { NibbleError } from '../../core/errors.ts';
import { detectModelFormat } from '../../core/formats/hf/detect.ts';
import { describeCheckpoint } from '../../core/formats/model-inspect.ts';
import { parseSafetensorsIndex } from '../../core/formats/safetensors.ts';
import type { SourceFile } from '../engine-host/protocol.ts';

export type LocalSource =
  | { kind: 'hf'; files: Map<string, Blob> }
  | { kind: 'checkpoint'; checkpoint: SourceFile; tokenizer: SourceFile | null; tokenizerConfig: SourceFile | null };

type Kind = 'checkpoint' | 'safetensors' | 'llama2c-tokenizer' | 'json' | 'unknown';

const HEAD_BYTES = 4096;
const bad = (msg: string) => new NibbleError('bad-argument', msg);
const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** Normalised paths ('a\\b' → 'a/b', no leading './' or '/'), without a root folder they all share. */
export function stripCommonRoot(files: readonly SourceFile[]): SourceFile[] {
  const norm = files.map((f) => ({ path: f.path.replace(/\\/g, '/').replace(/^(\.\/|\/)+/, ''), blob: f.blob }));
  const first = norm[0]?.path.split('/')[0];
  const shared = norm.length > 0 && norm.every((f) => f.path.includes('/') && f.path.split('/')[0] === first);
  return shared ? norm.map((f) => ({ path: f.path.slice(first!.length + 1), blob: f.blob })) : norm;
}

/**
 * A llama2.c tokenizer.bin: i32 max_token_length, then (f32 score, i32 length, bytes) per token.
 * The first tokens are walked: a checkpoint's weights read this way give absurd lengths at once.
 */
function looksLikeLlama2cTokenizer(head: Uint8Array, size: number): boolean {
  if (head.byteLength < 12) return false;
  const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const maxLen = v.getInt32(0, true);
  if (maxLen < 1 || maxLen > 1 << 16) return false;
  let at = 4;
  for (let i = 0; i < 16 && at + 8 <= head.byteLength; i++) {
    const len = v.getInt32(at + 4, true);
    if (!Number.isFinite(v.getFloat32(at, true)) || len < 0 || len > maxLen) return false;
    at += 8 + len;
  }
  return at <= size;
}

async function kindOf(f: SourceFile): Promise<Kind> {
  const head = new Uint8Array(await f.blob.slice(0, HEAD_BYTES).arrayBuffer());
  const firstChar = head.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  if (firstChar === 0x7b) return 'json';
  const format = detectModelFormat(head, f.blob.size);
  if (format === 'gguf' || format === 'nibble') return 'checkpoint';
  if (format === 'safetensors') return 'safetensors';
  if (format === 'llama2c') {
    // A llama2.c checkpoint when its header is valid and implies exactly this file's size.
    const headReader = { size: f.blob.size, read: async (o: number, n: number) => head.subarray(o, o + n) };
    if (
      await describeCheckpoint(headReader).then(
        () => true,
        () => false,
      )
    )
      return 'checkpoint';
  }
  return looksLikeLlama2cTokenizer(head, f.blob.size) ? 'llama2c-tokenizer' : 'unknown';
}

/** Sorts the user's files into a Hugging Face folder or a checkpoint + tokenizer; 'bad-argument' when that is not clear. */
export async function classifyFiles(input: readonly SourceFile[]): Promise<LocalSource> {
  if (!Array.isArray(input) || input.length === 0) throw bad('no files were chosen');
  const files = stripCommonRoot(input);
  const seen = new Set<string>();
  for (const f of files) {
    if (!(f.blob instanceof Blob)) throw bad(`${f.path} is not a file`);
    if (seen.has(f.path)) throw bad(`${f.path} was chosen twice`);
    seen.add(f.path);
  }
  if (seen.has('config.json')) return { kind: 'hf', files: new Map(files.map((f) => [f.path, f.blob])) };
  const nested = files.find((f) => baseName(f.path) === 'config.json');
  if (nested)
    throw bad(`config.json is in ${nested.path.slice(0, -'/config.json'.length)}/: choose that folder itself`);

  const kinds = await Promise.all(files.map(kindOf));
  const of = (k: Kind) => files.filter((_, i) => kinds[i] === k);
  if (of('safetensors').length > 0) {
    throw new NibbleError(
      'unsupported',
      `${of('safetensors')[0].path} is a .safetensors file without its folder: choose the whole model folder (config.json, tokenizer.json and the .safetensors files)`,
    );
  }
  let checkpoints = of('checkpoint');
  const unknown = of('unknown');
  if (checkpoints.length > 1)
    throw bad(`${checkpoints.map((f) => f.path).join(', ')} are all model checkpoints: choose one`);
  // No valid checkpoint: a single unrecognised file is taken as one, so its loader names what is wrong.
  if (checkpoints.length === 0 && unknown.length === 1) checkpoints = unknown.splice(0);
  if (checkpoints.length === 0)
    throw bad(
      'none of the files is a model: choose a llama2.c .bin, a .gguf or a .nibble file, or a Hugging Face folder (config.json, tokenizer.json, *.safetensors)',
    );
  if (unknown.length > 0)
    throw bad(
      `${unknown.map((f) => f.path).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} neither a model nor a tokenizer`,
    );

  const json = of('json');
  const tokJson = json.find((f) => baseName(f.path) === 'tokenizer.json') ?? null;
  const tokConfig = json.find((f) => baseName(f.path) === 'tokenizer_config.json') ?? null;
  const otherJson = json.filter((f) => f !== tokJson && f !== tokConfig);
  if (otherJson.length > 0)
    throw bad(`${otherJson[0].path} is neither a model nor a tokenizer (a Hugging Face folder needs its config.json)`);
  if (tokConfig && !tokJson) throw bad('tokenizer_config.json was chosen without tokenizer.json');
  const bins = of('llama2c-tokenizer');
  const tokenizers = [...bins, ...(tokJson ? [tokJson] : [])];
  if (tokenizers.length > 1) throw bad(`${tokenizers.map((f) => f.path).join(', ')} are all tokenizers: choose one`);
  return {
    kind: 'checkpoint',
    checkpoint: checkpoints[0],
    tokenizer: tokenizers[0] ?? null,
    tokenizerConfig: tokConfig,
  };
}

/** For HF folders: required files present, and every shard the index names ('bad-argument' naming what is missing). */
export async function checkHfFiles(files: Map<string, Blob>): Promise<void> {
  const missing: string[] = [];
  if (!files.has('tokenizer.json')) missing.push('tokenizer.json');
  const index = files.get('model.safetensors.index.json');
  if (!files.has('model.safetensors') && !index)
    missing.push('model.safetensors (or model.safetensors.index.json with its shards)');
  if (!files.has('model.safetensors') && index) {
    const shards = new Set(parseSafetensorsIndex(new Uint8Array(await index.arrayBuffer())).values());
    for (const s of [...shards].sort()) if (!files.has(s)) missing.push(s);
  }
  if (missing.length) throw bad(`the Hugging Face folder is missing ${missing.join(', ')}`);
}
