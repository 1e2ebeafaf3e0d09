// What a model holds, from its headers only (no tensor data is read): format, config (with the
// model's own context), the weights a load will hold as the WebGPU runner lays them out, and the
// tokenizer it carries. The page's `inspect` and its pre-load checks use it; model-open.ts loads.
//
// The weight entries come from describeModelTensors (core/model-tensors.ts), the function the
// runner's own plan uses, applied to a "shape model": the model as the header describes it, each
// tensor with its shape and format fields but no data (only .nibble gIdx arrays, one small
// column index per linear, are read). Formats are those a load makes: f32 (F16/BF16/quantized GGUF
// tensors are converted on load) unless the file keeps a packed format (.nibble variants; GGUF
// Q8_0/Q4_0 linears with weights 'native', as gguf/native.ts builds them). Header fields are
// checked the way the loaders check them, with their error codes; a load validates all again.
import { NibbleError, requireBytes } from '../errors.ts';
import { readGgufHeader } from './gguf/read.ts';
import { planGguf, type GgufPlanTensor } from './gguf/llama.ts';
import { GgmlType } from './gguf/types.ts';
import { detectModelFormat } from './hf/detect.ts';
import { parseJsonObject, show } from './hf/json.ts';
import { inspectHfFolder, type ModelFolder } from './hf/load.ts';
import { llama2cBodyBytes, validateHeader } from './llama2c.ts';
import type { TensorPlanEntry } from '../plan/memory-plan.ts';
import { describeModelTensors } from '../plan/model-tensors.ts';
import { kvDim, type LayerWeights, type LlamaConfig, type LlamaModel } from '../model/model.ts';
import { LAYER_KEYS, expectedShape } from './nibble-file.ts';
import { nibbleHeaderLength, parseNibbleHeader, readNibbleConfig } from './nibble-file-read.ts';
import { isCodebookFormat, isUniformFormat } from '../quant/format.ts';
import type { RangeReader } from './safetensors.ts';
import type { F32Tensor, Tensor } from '../tensor.ts';

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
const NO_F32 = new Float32Array(0);
const NO_U32 = new Uint32Array(0);
/** An f32 tensor of this shape without its values (describeModelTensors reads shapes only). */
const shapeOnly = (shape: number[]): F32Tensor => ({ format: 'f32', shape, data: NO_F32 });
const shapeOnly16 = (shape: number[]): Tensor => ({ format: 'f16', shape, data: NO_U32 });

/**
 * The model `c` describes, tensor by tensor from `tensor(name, shape)` (our names: tok_emb,
 * rms_final, wcls, layers.L.K; see nibble-file.ts); wcls is the embedding when shared.
 */
function shapeModel(c: LlamaConfig, tensor: (name: string, shape: number[]) => Tensor, bias = false): LlamaModel {
  const tokEmb = tensor('tok_emb', [c.vocabSize, c.dim]);
  const layers = Array.from(
    { length: c.nLayers },
    (_, l) =>
      Object.fromEntries(
        LAYER_KEYS.map((k) => [k, tensor(`layers.${l}.${k}`, expectedShape(`layers.${l}.${k}`, c))]),
      ) as unknown as LayerWeights,
  );
  // describeModelTensors reads a bias vector's length only: no values are allocated.
  const vec = (n: number): F32Tensor => ({ format: 'f32', shape: [n], data: { length: n } as Float32Array });
  const attnBias = bias
    ? layers.map(() => ({ bq: vec(c.nHeads * c.headSize), bk: vec(kvDim(c)), bv: vec(kvDim(c)) }))
    : undefined;
  const wcls = c.sharedClassifier ? tokEmb : tensor('wcls', [c.vocabSize, c.dim]);
  return {
    config: c,
    weights: { tokEmb, layers, rmsFinal: tensor('rms_final', [c.dim]), wcls, ...(attnBias ? { attnBias } : {}) },
  };
}

/** Weight count as ModelInfo.params counts it: every weight's values, the shared classifier once, no biases. */
function paramsOf(m: LlamaModel): number {
  const w = m.weights;
  const all = [w.tokEmb, w.rmsFinal, ...w.layers.flatMap((l) => LAYER_KEYS.map((k) => l[k]))];
  return all.reduce((n, t) => n + numel(t.shape), 0) + (w.wcls === w.tokEmb ? 0 : numel(w.wcls.shape));
}

function described(
  format: ModelFormat,
  architecture: string,
  m: LlamaModel,
  rest: Pick<ModelDescription, 'tokenizer' | 'chatTemplate'>,
): ModelDescription {
  return { format, architecture, config: m.config, tensors: describeModelTensors(m), params: paramsOf(m), ...rest };
}

async function readExact(reader: RangeReader, offset: number, length: number, what: string): Promise<Uint8Array> {
  requireBytes(what, offset, length, reader.size);
  const b = await reader.read(offset, length);
  if (b.byteLength !== length)
    throw new NibbleError('truncated', `${what}: read ${b.byteLength} bytes at offset ${offset}, expected ${length}`);
  return b;
}

/** Describes one checkpoint file (llama2.c, GGUF or .nibble, told apart by content). */
export async function describeCheckpoint(
  reader: RangeReader,
  opts: { ggufWeights?: 'f32' | 'native' } = {},
): Promise<ModelDescription> {
  const head = await reader.read(0, Math.min(reader.size, 256));
  switch (detectModelFormat(head, reader.size)) {
    case 'gguf':
      return describeGguf(reader, opts.ggufWeights ?? 'f32');
    case 'nibble':
      return describeNibble(reader);
    case 'safetensors':
      throw new NibbleError(
        'unsupported',
        'a single .safetensors file has no config or tokenizer: choose the whole model folder (config.json, tokenizer.json and the .safetensors files)',
      );
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
    if (i32(4) !== 1)
      throw new NibbleError(
        'unsupported',
        `llama2.c checkpoint version ${i32(4)} is not supported (only legacy and version 1 fp32)`,
      );
    config = validateHeader({
      dim: i32(8),
      hiddenDim: i32(12),
      nLayers: i32(16),
      nHeads: i32(20),
      nKvHeads: i32(24),
      vocabSize: i32(28),
      seqLen: i32(32),
      shared: view.getUint8(36) !== 0,
    });
    [legacy, bodyStart] = [false, 256];
  } else {
    try {
      config = validateHeader({
        dim: i32(0),
        hiddenDim: i32(4),
        nLayers: i32(8),
        nHeads: i32(12),
        nKvHeads: i32(16),
        vocabSize: Math.abs(i32(20)),
        seqLen: i32(24),
        shared: i32(20) > 0,
      });
    } catch (e) {
      if (!(e instanceof NibbleError)) throw e;
      throw new NibbleError(
        'bad-format',
        `not a llama2.c checkpoint (no "ak42" magic, and as a legacy header: ${e.message.replace('llama2.c header: ', '')})`,
      );
    }
  }
  const need = bodyStart + llama2cBodyBytes(config, legacy);
  const what = `llama2.c checkpoint: header (dim ${config.dim}, ${config.nLayers} layers, vocab ${config.vocabSize}) needs ${need} bytes, file has ${size}`;
  if (size < need) throw new NibbleError('truncated', what);
  if (size > need) throw new NibbleError('bad-format', `${what} (${size - need} extra)`);
  return described(
    'llama2c',
    'llama',
    shapeModel(config, (_, shape) => shapeOnly(shape)),
    { tokenizer: null, chatTemplate: false },
  );
}

// ---- GGUF: the header by ranges, checked by planGguf (every tensor's presence and shape) ----

/** A planned GGUF tensor as a load makes it: f32, or with 'native' a Q8_0/Q4_0 linear kept as q8/q4 (native.ts). */
function ggufTensor(p: GgufPlanTensor, weights: 'f32' | 'native'): Tensor {
  const q8 = p.info.type === GgmlType.Q8_0;
  if (weights === 'native' && p.info.type === GgmlType.F16 && p.shape.length === 2) return shapeOnly16(p.shape);
  if (weights !== 'native' || !p.linear || (!q8 && p.info.type !== GgmlType.Q4_0)) return shapeOnly(p.shape);
  const [rows, cols] = p.shape;
  return {
    format: q8 ? 'q8' : 'q4',
    shape: [rows, cols],
    granularity: cols > 32 ? 'group' : 'row',
    group: 32,
    sym: true,
    scaleType: 'f16',
    buffers: { data: NO_U32, scales: NO_U32 },
  };
}

async function describeGguf(reader: RangeReader, weights: 'f32' | 'native'): Promise<ModelDescription> {
  const header = await readGgufHeader(reader);
  const plan = planGguf(header);
  // Whether output.weight repeats the embedding is decided on load by comparing all its bytes; here
  // (no tensor data) by comparing their first 4 KiB: different → its own tensor, the same → shared.
  const out = plan.output;
  const emb = plan.tensors[0];
  let shared = !out;
  if (out && out.info.type === emb.info.type && out.info.bytes === emb.info.bytes) {
    const n = Math.min(out.info.bytes, 4096);
    const [a, b] = [
      await reader.read(header.dataStart + out.info.offset, n),
      await reader.read(header.dataStart + emb.info.offset, n),
    ];
    shared = a.byteLength === n && b.byteLength === n && a.every((x, i) => x === b[i]);
  }
  const byId = new Map(plan.tensors.map((p) => [p.id, p]));
  if (out) byId.set('wcls', out);
  const ourId = (name: string) => name.replace(/^layers\.(\d+)\./, 'l$1.');
  const config = { ...plan.config, seqLen: plan.ownContext, sharedClassifier: shared };
  return described(
    'gguf',
    'llama',
    shapeModel(config, (name) => ggufTensor(byId.get(ourId(name))!, weights)),
    { tokenizer: 'gguf', chatTemplate: false },
  );
}

// ---- .nibble: the JSON header (nibble-file.ts layout); buffer sizes as stored ----

const MAX_NIBBLE_BLOB = 16 << 20; // tokenizer_config.json read for its chat_template
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const nibbleBad = (msg: string) => new NibbleError('bad-format', `nibble file: ${msg}`);

async function describeNibble(reader: RangeReader): Promise<ModelDescription> {
  const size = reader.size;
  const hlen = nibbleHeaderLength(await readExact(reader, 0, Math.min(12, size), 'nibble file'), size);
  const header = parseNibbleHeader(await readExact(reader, 12, hlen, 'nibble file header'));
  const config = readNibbleConfig(header.config);
  const blobSize = (what: string, b: unknown): number => {
    if (!isObj(b) || !Number.isSafeInteger(b.offset) || !Number.isSafeInteger(b.bytes) || (b.bytes as number) < 0)
      throw nibbleBad(`${what}: buffer needs whole-number offset and bytes`);
    if ((b.offset as number) + (b.bytes as number) > size)
      throw new NibbleError(
        'truncated',
        `nibble file: ${what} needs bytes up to ${(b.offset as number) + (b.bytes as number)}, file has ${size}`,
      );
    return b.bytes as number;
  };
  const entries = header.tensors;
  const tensors = new Map<string, Tensor>();
  const names = [
    'tok_emb',
    'rms_final',
    ...(config.sharedClassifier ? [] : ['wcls']),
    ...Array.from({ length: config.nLayers }, (_, l) => LAYER_KEYS.map((k) => `layers.${l}.${k}`)).flat(),
  ];
  for (const name of names)
    tensors.set(name, await nibbleTensor(name, entries[name], expectedShape(name, config), reader, blobSize));
  let tokenizer: ModelDescription['tokenizer'] = header.tokenizer ? 'llama2c' : null;
  let chatTemplate = false;
  const hf = header.hfTokenizer;
  if (hf !== null && hf !== undefined) {
    if (!isObj(hf)) throw nibbleBad('hfTokenizer must be an object');
    tokenizer = 'hf';
    chatTemplate = isObj(hf.options) && typeof hf.options.chatTemplate === 'string';
    if (hf.config !== null && hf.config !== undefined) {
      const n = blobSize('tokenizer_config.json', hf.config);
      if (n > MAX_NIBBLE_BLOB) throw nibbleBad('tokenizer_config.json blob has an impossible size');
      const tc = parseJsonObject(
        await readExact(reader, (hf.config as Obj).offset as number, n, 'nibble file'),
        'tokenizer_config.json',
      );
      chatTemplate ||= tc.chat_template !== undefined && tc.chat_template !== null;
    }
  }
  const bias = entries['layers.0.bq'] !== undefined; // Qwen2 biases: f32 vectors, all layers (the reader checks each)
  return described(
    'nibble',
    'llama',
    shapeModel(config, (name) => tensors.get(name)!, bias),
    { tokenizer, chatTemplate },
  );
}

/**
 * One .nibble tensor entry as a shape tensor: format fields checked as the reader checks them,
 * no data (gIdx, when stored, is read: it decides whether stacked linears merge on the GPU).
 */
async function nibbleTensor(
  name: string,
  e: unknown,
  shape: number[],
  reader: RangeReader,
  blobSize: (what: string, b: unknown) => number,
): Promise<Tensor> {
  if (!isObj(e)) throw nibbleBad(`tensor ${name} is missing`);
  if (!Array.isArray(e.shape) || e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
    throw nibbleBad(`${name}: shape ${show(e.shape)} does not match the config's [${shape}]`);
  }
  const f = e.format;
  if (f === 'f32') return shapeOnly(shape);
  if (shape.length !== 2) throw nibbleBad(`${name}: norm weights must be f32`);
  if (f === 'f16') return shapeOnly16(shape);
  const [rows, cols] = shape as [number, number];
  const bufs = isObj(e.buffers) ? e.buffers : {};
  const group = (hi: number) => {
    if (!Number.isInteger(e.group) || (e.group as number) < 1 || (e.group as number) > hi)
      throw nibbleBad(`${name}: group ${show(e.group)} is not in 1..${hi}`);
    return e.group as number;
  };
  if (f === 'llmint8')
    return {
      format: 'llmint8',
      shape: [rows, cols],
      threshold: typeof e.threshold === 'number' ? e.threshold : Infinity,
      buffers: { data: NO_U32, scales: NO_F32 },
    };
  if (typeof f === 'string' && isCodebookFormat(f)) {
    if (e.scaleType !== 'f32' && e.scaleType !== 'dq8')
      throw nibbleBad(`${name}: scaleType must be 'f32' or 'dq8', got ${show(e.scaleType)}`);
    return {
      format: f,
      shape,
      group: group(rows * cols),
      sym: true,
      scaleType: e.scaleType,
      buffers: { data: NO_U32, scales: NO_F32 },
    };
  }
  if (typeof f !== 'string' || !isUniformFormat(f)) throw nibbleBad(`${name}: unknown format ${show(f)}`);
  if (e.scaleType !== 'f32' && e.scaleType !== 'f16')
    throw nibbleBad(`${name}: scaleType must be 'f32' or 'f16', got ${show(e.scaleType)}`);
  let gIdx: Uint32Array | undefined;
  if (bufs.gIdx !== undefined) {
    if (blobSize(`${name}.gIdx`, bufs.gIdx) !== 4 * cols)
      throw nibbleBad(
        `${name}.gIdx: buffer holds ${(bufs.gIdx as Obj).bytes} bytes, its shape and format need ${4 * cols}`,
      );
    gIdx = new Uint32Array(
      (await readExact(reader, (bufs.gIdx as Obj).offset as number, 4 * cols, 'nibble file')).slice().buffer,
    );
  }
  return {
    format: f,
    shape: [rows, cols],
    granularity: e.granularity === 'tensor' || e.granularity === 'row' ? e.granularity : 'group',
    group: group(cols),
    sym: e.sym === true,
    scaleType: e.scaleType,
    buffers: { data: NO_U32, scales: NO_U32, ...(gIdx ? { gIdx } : {}) },
  };
}

// ---- Hugging Face folders: config.json + the safetensors headers ----

/** Describes an HF folder; `chatTemplate` from chat_template.jinja or tokenizer_config.json. */
export async function describeHfFolder(folder: ModelFolder): Promise<ModelDescription> {
  const info = await inspectHfFolder(folder);
  const c = { ...info.hf.config, sharedClassifier: info.tied };
  // F16 / BF16 matrices load as f16 (safetensors readTensor): 2 bytes per weight in the plan.
  const sixteen = info.tensors.some((t) => t.shape.length === 2 && t.dtype !== 'F32');
  const model = shapeModel(
    c,
    (_, shape) => (sixteen && shape.length === 2 ? shapeOnly16(shape) : shapeOnly(shape)),
    info.hf.attentionBias,
  );
  // Presence without reading: through `open` (a size) when the folder has it.
  const has = async (name: string) =>
    folder.open ? (await folder.open(name)) !== undefined : (await folder.get(name)) !== undefined;
  const tokConfig = await folder.get('tokenizer_config.json');
  const tc = tokConfig ? parseJsonObject(tokConfig, 'tokenizer_config.json') : {};
  const chatTemplate =
    (await has('chat_template.jinja')) || (tc.chat_template !== undefined && tc.chat_template !== null);
  const tokenizer = (await has('tokenizer.json')) ? 'hf' : null;
  return described('hf', info.hf.arch, model, { tokenizer, chatTemplate });
}
