// What a model holds, from its headers only (no tensor data is read): format, config (with the
// model's own context), the weights a load will hold with their sizes, the tokenizer it carries.
// The page's `inspect` and its pre-load memory checks use it; model-open.ts loads.
//
// Sizes are those of the tensors a load makes: f32 (4 bytes a value; F16/BF16/quantized GGUF
// tensors are converted on load) unless the file keeps a packed format (.nibble variants; GGUF
// Q8_0/Q4_0 linears with weights 'native', sized as packed codes + fp16 scale pairs the way
// gguf/native.ts builds them). Every header field used is checked the way its loader checks it,
// with the loader's error codes; the loader still validates everything again when it loads.
import { NibbleError, requireBytes } from './errors.ts';
import { readGgufHeader } from './gguf/read.ts';
import { planGguf, type GgufPlanTensor } from './gguf/llama.ts';
import { GgmlType } from './gguf/types.ts';
import { detectModelFormat } from './hf/detect.ts';
import { parseJsonObject } from './hf/json.ts';
import { inspectHfFolder, type ModelFolder } from './hf/load.ts';
import { llama2cBodyBytes, validateHeader } from './llama2c.ts';
import type { TensorPlanEntry } from './memory-plan.ts';
import { kvDim, type LlamaConfig } from './model.ts';
import { LAYER_KEYS, NIBBLE_MAGIC, NIBBLE_VERSION, expectedShape } from './nibble-file.ts';
import type { RangeReader } from './safetensors.ts';

export type ModelFormat = 'llama2c' | 'gguf' | 'nibble' | 'hf';

export interface ModelDescription {
  format: ModelFormat;
  architecture: string; // 'llama', 'qwen2'
  config: LlamaConfig; // seqLen = the model's own context
  tensors: TensorPlanEntry[]; // the weights a load holds (a shared classifier once)
  params: number; // weight count as ModelInfo.params counts it (no biases)
  tokenizer: 'llama2c' | 'hf' | 'gguf' | null; // what the file carries
  chatTemplate: boolean;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const f32Entry = (name: string, shape: readonly number[]): TensorPlanEntry => ({ name, rows: shape.length === 2 ? shape[0] : 1, bytes: 4 * numel(shape), format: 'f32' });

/** The weights of a Llama model under `c` as f32 entries (our names), the classifier once when shared. */
function llamaEntries(c: LlamaConfig): TensorPlanEntry[] {
  const out = [f32Entry('tok_emb', [c.vocabSize, c.dim])];
  for (let l = 0; l < c.nLayers; l++) for (const k of LAYER_KEYS) out.push(f32Entry(`l${l}.${k}`, expectedShape(`layers.${l}.${k}`, c)));
  out.push(f32Entry('rms_final', [c.dim]));
  if (!c.sharedClassifier) out.push(f32Entry('wcls', [c.vocabSize, c.dim]));
  return out;
}

const paramsOf = (entries: TensorPlanEntry[], shapes: Map<string, readonly number[]>) =>
  entries.reduce((n, e) => n + (/\.b[qkv]$/.test(e.name) ? 0 : numel(shapes.get(e.name) ?? [e.bytes / 4])), 0);

async function readExact(reader: RangeReader, offset: number, length: number, what: string): Promise<Uint8Array> {
  requireBytes(what, offset, length, reader.size);
  const b = await reader.read(offset, length);
  if (b.byteLength !== length) throw new NibbleError('truncated', `${what}: read ${b.byteLength} bytes at offset ${offset}, expected ${length}`);
  return b;
}

/** Describes one checkpoint file (llama2.c, GGUF or .nibble, told apart by content). */
export async function describeCheckpoint(reader: RangeReader, opts: { ggufWeights?: 'f32' | 'native' } = {}): Promise<ModelDescription> {
  const head = await reader.read(0, Math.min(reader.size, 256));
  switch (detectModelFormat(head, reader.size)) {
    case 'gguf':
      return describeGguf(reader, opts.ggufWeights ?? 'f32');
    case 'nibble':
      return describeNibble(reader);
    case 'safetensors':
      throw new NibbleError('unsupported', 'a single .safetensors file has no config or tokenizer: choose the whole model folder (config.json, tokenizer.json and the .safetensors files)');
    default:
      return describeLlama2c(head, reader.size);
  }
}

// ---- llama2.c: the header checks of parseLlama2c (llama2c.ts), on the first 256 bytes ----

function describeLlama2c(head: Uint8Array, size: number): ModelDescription {
  requireBytes('llama2.c header', 0, 28, size);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const i32 = (o: number) => view.getInt32(o, true);
  let config: LlamaConfig;
  let legacy = true;
  let bodyStart = 28;
  if (view.getUint32(0, true) === 0x616b3432) {
    requireBytes('llama2.c v1 header', 0, 256, size);
    if (i32(4) !== 1) throw new NibbleError('unsupported', `llama2.c checkpoint version ${i32(4)} is not supported (only legacy and version 1 fp32)`);
    config = validateHeader({ dim: i32(8), hiddenDim: i32(12), nLayers: i32(16), nHeads: i32(20), nKvHeads: i32(24), vocabSize: i32(28), seqLen: i32(32), shared: view.getUint8(36) !== 0 });
    [legacy, bodyStart] = [false, 256];
  } else {
    try {
      config = validateHeader({ dim: i32(0), hiddenDim: i32(4), nLayers: i32(8), nHeads: i32(12), nKvHeads: i32(16), vocabSize: Math.abs(i32(20)), seqLen: i32(24), shared: i32(20) > 0 });
    } catch (e) {
      if (!(e instanceof NibbleError)) throw e;
      throw new NibbleError('bad-format', `not a llama2.c checkpoint (no "ak42" magic, and as a legacy header: ${e.message.replace('llama2.c header: ', '')})`);
    }
  }
  const need = bodyStart + llama2cBodyBytes(config, legacy);
  const what = `llama2.c checkpoint: header (dim ${config.dim}, ${config.nLayers} layers, vocab ${config.vocabSize}) needs ${need} bytes, file has ${size}`;
  if (size < need) throw new NibbleError('truncated', what);
  if (size > need) throw new NibbleError('bad-format', `${what} (${size - need} extra)`);
  const tensors = llamaEntries(config);
  return { format: 'llama2c', architecture: 'llama', config, tensors, params: tensors.reduce((n, e) => n + e.bytes / 4, 0), tokenizer: null, chatTemplate: false };
}

// ---- GGUF: the header by ranges, checked by planGguf (every tensor's presence and shape) ----

/** GPU bytes of a planned GGUF tensor: f32, or Q8_0/Q4_0 linears kept packed with 'native'. */
function ggufEntry(p: GgufPlanTensor, weights: 'f32' | 'native'): TensorPlanEntry {
  const q8 = p.info.type === GgmlType.Q8_0;
  if (weights !== 'native' || !p.linear || (!q8 && p.info.type !== GgmlType.Q4_0)) return f32Entry(p.id, p.shape);
  const [rows, cols] = p.shape;
  const codeWords = rows * Math.ceil(cols / (q8 ? 4 : 8)); // packRows: 4 (q8) or 8 (q4) codes a u32 word
  const scaleWords = Math.ceil(p.info.numel / 32 / 2); // one fp16 scale per 32 values, two a word
  return { name: p.id, rows, bytes: 4 * (codeWords + scaleWords), format: q8 ? 'q8' : 'q4' };
}

async function describeGguf(reader: RangeReader, weights: 'f32' | 'native'): Promise<ModelDescription> {
  const header = await readGgufHeader(reader);
  const plan = planGguf(header);
  const tensors = plan.tensors.map((p) => ggufEntry(p, weights));
  const shapes = new Map<string, readonly number[]>(plan.tensors.map((p) => [p.id, p.shape]));
  // Whether output.weight repeats the embedding is decided on load by comparing all its bytes; here
  // (no tensor data) by comparing their first 4 KiB: different → counted, the same → shared.
  let shared = true;
  const out = plan.output;
  if (out) {
    const emb = plan.tensors[0];
    shared = out.info.type === emb.info.type && out.info.bytes === emb.info.bytes;
    if (shared) {
      const n = Math.min(out.info.bytes, 4096);
      const [a, b] = [await reader.read(header.dataStart + out.info.offset, n), await reader.read(header.dataStart + emb.info.offset, n)];
      shared = a.byteLength === n && b.byteLength === n && a.every((x, i) => x === b[i]);
    }
    if (!shared) {
      tensors.push(ggufEntry(out, weights));
      shapes.set(out.id, out.shape);
    }
  }
  const config = { ...plan.config, seqLen: plan.ownContext, sharedClassifier: shared };
  return { format: 'gguf', architecture: 'llama', config, tensors, params: paramsOf(tensors, shapes), tokenizer: 'gguf', chatTemplate: false };
}

// ---- .nibble: the JSON header (nibble-file.ts layout); buffer sizes as stored ----

const MAX_NIBBLE_HEADER = 16 << 20;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const nibbleBad = (msg: string) => new NibbleError('bad-format', `nibble file: ${msg}`);

function nibbleConfig(v: unknown): LlamaConfig {
  if (!isObj(v)) throw nibbleBad('header has no config object');
  const n = (k: string) => {
    if (!Number.isInteger(v[k])) throw nibbleBad(`config.${k} must be a whole number, got ${JSON.stringify(v[k])}`);
    return v[k] as number;
  };
  const c = validateHeader({ dim: n('dim'), hiddenDim: n('hiddenDim'), nLayers: n('nLayers'), nHeads: n('nHeads'), nKvHeads: n('nKvHeads'), vocabSize: n('vocabSize'), seqLen: n('seqLen'), shared: v.sharedClassifier === true });
  const { normEps: eps, ropeTheta: theta, ropeStyle: style } = v;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) throw nibbleBad(`config.normEps ${String(eps)} is not in (0, 1)`);
  if (typeof theta !== 'number' || !(theta > 0 && Number.isFinite(theta))) throw nibbleBad(`config.ropeTheta ${String(theta)} is not a positive number`);
  if (style !== 'interleaved' && style !== 'half') throw nibbleBad(`config.ropeStyle must be 'interleaved' or 'half', got ${JSON.stringify(style)}`);
  return { ...c, normEps: eps, ropeTheta: theta, ropeStyle: style };
}

async function describeNibble(reader: RangeReader): Promise<ModelDescription> {
  const size = reader.size;
  const first = await readExact(reader, 0, 12, 'nibble file');
  const dv = new DataView(first.buffer, first.byteOffset, 12);
  if (dv.getUint32(0, true) !== NIBBLE_MAGIC) throw nibbleBad('no "NIBL" magic at the start');
  const version = dv.getUint32(4, true);
  if (version !== NIBBLE_VERSION) throw new NibbleError('unsupported', `nibble file version ${version} is not supported (this build reads version ${NIBBLE_VERSION})`);
  const hlen = dv.getUint32(8, true);
  if (hlen > MAX_NIBBLE_HEADER) throw nibbleBad(`header length ${hlen} exceeds ${MAX_NIBBLE_HEADER} bytes`);
  if (12 + hlen > size) throw new NibbleError('truncated', `nibble file: header needs ${12 + hlen} bytes, file has ${size}`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readExact(reader, 12, hlen, 'nibble file header')));
  } catch (e) {
    if (e instanceof NibbleError) throw e;
    throw nibbleBad(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObj(header) || !isObj(header.tensors)) throw nibbleBad('header has no tensors object');
  const config = nibbleConfig(header.config);
  const blobSize = (what: string, b: unknown): number => {
    if (!isObj(b) || !Number.isSafeInteger(b.offset) || !Number.isSafeInteger(b.bytes) || (b.bytes as number) < 0) throw nibbleBad(`${what}: buffer needs whole-number offset and bytes`);
    if ((b.offset as number) + (b.bytes as number) > size) throw new NibbleError('truncated', `nibble file: ${what} needs bytes up to ${(b.offset as number) + (b.bytes as number)}, file has ${size}`);
    return b.bytes as number;
  };
  const entries = header.tensors;
  const tensors: TensorPlanEntry[] = [];
  const shapes = new Map<string, readonly number[]>();
  const add = (name: string, id: string) => {
    const e = entries[name];
    if (!isObj(e)) throw nibbleBad(`tensor ${name} is missing`);
    const shape = expectedShape(name, config);
    if (typeof e.format !== 'string') throw nibbleBad(`${name}: unknown format ${JSON.stringify(e.format)}`);
    const bufs = isObj(e.buffers) ? e.buffers : {};
    const bytes = Object.entries(bufs).reduce((n, [k, b]) => n + blobSize(`${name}.${k}`, b), 0);
    tensors.push({ name: id, rows: shape.length === 2 ? shape[0] : 1, bytes, format: e.format });
    shapes.set(id, shape);
  };
  add('tok_emb', 'tok_emb');
  for (let l = 0; l < config.nLayers; l++) for (const k of LAYER_KEYS) add(`layers.${l}.${k}`, `l${l}.${k}`);
  add('rms_final', 'rms_final');
  if (!config.sharedClassifier) add('wcls', 'wcls');
  let tokenizer: ModelDescription['tokenizer'] = header.tokenizer ? 'llama2c' : null;
  let chatTemplate = false;
  const hf = header.hfTokenizer;
  if (hf !== null && hf !== undefined) {
    if (!isObj(hf)) throw nibbleBad('hfTokenizer must be an object');
    tokenizer = 'hf';
    if (hf.config !== null && hf.config !== undefined) {
      const n = blobSize('tokenizer_config.json', hf.config);
      if (n > MAX_NIBBLE_HEADER) throw nibbleBad('tokenizer_config.json blob has an impossible size');
      const tc = parseJsonObject(await readExact(reader, (hf.config as Obj).offset as number, n, 'nibble file'), 'tokenizer_config.json');
      chatTemplate = tc.chat_template !== undefined && tc.chat_template !== null;
    }
  }
  return { format: 'nibble', architecture: 'llama', config, tensors, params: paramsOf(tensors, shapes), tokenizer, chatTemplate };
}

// ---- Hugging Face folders: config.json + the safetensors headers ----

/** Describes an HF folder; `chatTemplate` from chat_template.jinja or tokenizer_config.json. */
export async function describeHfFolder(folder: ModelFolder): Promise<ModelDescription> {
  const info = await inspectHfFolder(folder);
  const c = { ...info.hf.config, sharedClassifier: info.tied };
  const tensors = llamaEntries(c);
  if (info.hf.attentionBias) {
    const qd = c.nHeads * c.headSize;
    for (let l = 0; l < c.nLayers; l++) tensors.push(f32Entry(`l${l}.bq`, [qd]), f32Entry(`l${l}.bk`, [kvDim(c)]), f32Entry(`l${l}.bv`, [kvDim(c)]));
  }
  // Presence without reading: through `open` (a size) when the folder has it.
  const has = async (name: string) => (folder.open ? (await folder.open(name)) !== undefined : (await folder.get(name)) !== undefined);
  const tokConfig = await folder.get('tokenizer_config.json');
  const tc = tokConfig ? parseJsonObject(tokConfig, 'tokenizer_config.json') : {};
  const chatTemplate = (await has('chat_template.jinja')) || (tc.chat_template !== undefined && tc.chat_template !== null);
  const tokenizer = (await has('tokenizer.json')) ? 'hf' : null;
  const params = tensors.reduce((n, e) => n + (/\.b[qkv]$/.test(e.name) ? 0 : e.bytes / 4), 0);
  return { format: 'hf', architecture: info.hf.arch, config: c, tensors, params, tokenizer, chatTemplate };
}
