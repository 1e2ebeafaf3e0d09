// A ModelSource → the files it stands for, opened through one SourceFiles (progress, cancel):
// a Hugging Face folder (ModelFolder) or one checkpoint file with an optional tokenizer.
// 'remote' refs: "owner/name" or "owner/name@revision" (a Hugging Face repo, resolved on
// `hfBaseUrl`), or the URL of one .gguf / .bin / .nibble file (https; http only on loopback).
import { NibbleError } from '../../core/errors.ts';
import type { ModelFolder } from '../../core/formats/hf/load.ts';
import { INDEX_FILE, parseSafetensorsIndex, type RangeReader } from '../../core/formats/safetensors.ts';
import type { TokenizerFiles } from '../../core/tokenizers/tokenizer-files.ts';
import type { ModelSource } from '../engine-host/protocol.ts';
import { openUrl, type HttpOptions } from './http.ts';
import { checkHfFiles, classifyFiles } from './local.ts';
import { blobReader, memoryReader, type FileRole, type Opener, type SourceFiles } from './registry.ts';

export interface SourceDeps extends HttpOptions {
  /** Where repo ids resolve: `${hfBaseUrl}/owner/name/resolve/<rev>/<file>`. */
  hfBaseUrl: string;
  /** Reads a 'url' source's files (the embedded default model). */
  fetchBytes: (url: string) => Promise<Uint8Array>;
}

export const HF_BASE_URL = 'https://huggingface.co';

export type Resolved =
  | { kind: 'folder'; folder: ModelFolder }
  | {
      kind: 'checkpoint';
      checkpoint: RangeReader;
      tokenizer: { kind: 'llama2c' | 'hf'; read(): Promise<TokenizerFiles> } | null;
    };

export type RemoteRef = { kind: 'repo'; repo: string; revision: string } | { kind: 'file'; url: string };

const REMOTE_FORMS =
  'a Hugging Face repo id ("owner/name" or "owner/name@revision") or the https URL of one .gguf, .bin or .nibble file';
const REPO = /^([A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*)(?:@([A-Za-z0-9][A-Za-z0-9._/-]*))?$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Parses a 'remote' ref; anything else is 'bad-argument' listing the accepted forms. */
export function parseRemoteRef(ref: unknown): RemoteRef {
  const s = typeof ref === 'string' ? ref.trim() : '';
  const repo = REPO.exec(s);
  if (repo && !s.includes('..')) return { kind: 'repo', repo: repo[1], revision: repo[2] ?? 'main' };
  let url: URL | null = null;
  try {
    url = /^https?:\/\//i.test(s) ? new URL(s) : null;
  } catch {
    url = null;
  }
  if (url && (url.protocol === 'https:' || LOOPBACK.has(url.hostname)) && /\.(gguf|bin|nibble)$/i.test(url.pathname))
    return { kind: 'file', url: url.href };
  throw new NibbleError('bad-argument', `"${s.slice(0, 200)}" is not a model reference: give ${REMOTE_FORMS}`);
}

export const repoFileUrl = (base: string, repo: string, revision: string, file: string): string =>
  `${base.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;

/** The role a file of an HF folder plays in a load. */
export function roleOf(name: string): FileRole {
  if (name === 'config.json' || name === 'generation_config.json' || name === INDEX_FILE) return 'config';
  if (name === 'tokenizer.json' || name === 'tokenizer_config.json' || name === 'chat_template.jinja')
    return 'tokenizer';
  return name.endsWith('.safetensors') ? 'weights' : 'other';
}

/** The optional files of an HF folder a load reads when present. */
const HF_OPTIONAL = ['generation_config.json', 'tokenizer_config.json', 'chat_template.jinja'];

async function readWhole(r: RangeReader): Promise<Uint8Array> {
  const b = await r.read(0, r.size);
  if (b.byteLength !== r.size) throw new NibbleError('truncated', `read ${b.byteLength} of ${r.size} bytes`);
  return b;
}

/**
 * A ModelFolder over `open(name, optional)`. Every file a load may read is opened up front (so
 * the plan lists them and the progress total is known before the weights): config.json and
 * tokenizer.json, the optional ones, model.safetensors or the index and every shard it names.
 */
async function hfFolder(files: SourceFiles, opener: (name: string, optional: boolean) => Opener): Promise<ModelFolder> {
  const reader = (name: string, optional = true) => files.open(name, roleOf(name), opener(name, optional));
  await reader('config.json', false);
  await Promise.all([reader('tokenizer.json'), ...HF_OPTIONAL.map((n) => reader(n))]);
  if (!(await reader('model.safetensors'))) {
    const index = await reader(INDEX_FILE);
    if (index) {
      const shards = [...new Set(parseSafetensorsIndex(await readWhole(index)).values())].sort();
      for (const s of shards) await reader(s);
    }
  }
  return {
    get: async (name) => {
      const r = await reader(name);
      return r && readWhole(r);
    },
    open: (name) => reader(name),
  };
}

/** Opens what `source` names. 'url' sources are fetched whole (fetchBytes) before this returns. */
export async function resolveSource(source: ModelSource, files: SourceFiles, deps: SourceDeps): Promise<Resolved> {
  const tokenizerOf = (
    kind: 'llama2c' | 'hf',
    r: RangeReader | undefined,
    config?: RangeReader,
  ): Extract<Resolved, { kind: 'checkpoint' }>['tokenizer'] => {
    if (!r || r.size === 0) return null;
    const read = async (): Promise<TokenizerFiles> => {
      const bytes = await readWhole(r);
      if (kind === 'llama2c') return { kind, bytes };
      return { kind, json: bytes, ...(config ? { config: await readWhole(config) } : {}) };
    };
    return { kind, read };
  };
  switch (source.kind) {
    case 'bytes':
    case 'url': {
      const [model, tok] =
        source.kind === 'bytes'
          ? [new Uint8Array(source.model), new Uint8Array(source.tokenizer)]
          : await Promise.all([deps.fetchBytes(source.modelUrl), deps.fetchBytes(source.tokenizerUrl)]);
      const [modelPath, tokPath] =
        source.kind === 'url' ? [source.modelUrl, source.tokenizerUrl] : ['model', 'tokenizer'];
      const checkpoint = (await files.open(modelPath, 'weights', async (count) => memoryReader(model, count)))!;
      const tokenizer =
        tok.byteLength > 0
          ? await files.open(tokPath, 'tokenizer', async (count) => memoryReader(tok, count))
          : undefined;
      return { kind: 'checkpoint', checkpoint, tokenizer: tokenizerOf(tok[0] === 0x7b ? 'hf' : 'llama2c', tokenizer) };
    }
    case 'files': {
      const local = await classifyFiles(source.files);
      if (local.kind === 'hf') {
        await checkHfFiles(local.files);
        return {
          kind: 'folder',
          folder: await hfFolder(files, (name) => async (count) => {
            const blob = local.files.get(name);
            return blob && blobReader(blob, count);
          }),
        };
      }
      const open = (f: { path: string; blob: Blob } | null, role: FileRole) =>
        f ? files.open(f.path, role, async (count) => blobReader(f.blob, count)) : Promise.resolve(undefined);
      const checkpoint = (await open(local.checkpoint, 'weights'))!;
      const tokenizer = await open(local.tokenizer, 'tokenizer');
      const config = await open(local.tokenizerConfig, 'tokenizer');
      const kind = local.tokenizer && local.tokenizer.path.endsWith('.json') ? 'hf' : 'llama2c';
      return { kind: 'checkpoint', checkpoint, tokenizer: tokenizerOf(kind, tokenizer, config) };
    }
    case 'remote': {
      const ref = parseRemoteRef(source.ref);
      if (ref.kind === 'file') {
        const checkpoint = (await files.open(ref.url, 'weights', (count) => openUrl(ref.url, deps, count)))!;
        return { kind: 'checkpoint', checkpoint, tokenizer: null };
      }
      const url = (name: string) => repoFileUrl(deps.hfBaseUrl, ref.repo, ref.revision, name);
      return {
        kind: 'folder',
        folder: await hfFolder(files, (name, optional) => (count) => openUrl(url(name), deps, count, optional)),
      };
    }
    default:
      throw new NibbleError('bad-argument', `unknown model source kind ${String((source as { kind?: unknown }).kind)}`);
  }
}
