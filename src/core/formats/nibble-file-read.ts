// Reader of .nibble files (layout in nibble-file.ts). Validates everything against the byte
// length first: magic, version, header size, config dimensions, each tensor's shape and format
// fields, every buffer's exact byte size (recomputed from shape + format), alignment, bounds
// and overlaps. Only then are typed arrays made, each a copy of exactly the bytes checked.
import { NibbleError } from '../errors.ts';
import { validateHeader } from './llama2c.ts';
import { requireFiniteWeights } from './finite.ts';
import { requireJsonDepth, show } from './hf/json.ts';
import type { LayerWeights, LlamaConfig } from '../model/model.ts';
import {
  LAYER_KEYS,
  NIBBLE_MAGIC,
  NIBBLE_VERSION,
  bad,
  expectedShape,
  type Blob,
  type BufferName,
  type NibbleFile,
} from './nibble-file.ts';
import { UNIFORM_BITS, isCodebookFormat, isUniformFormat } from '../quant/format.ts';
import { wordsPerRow } from '../quant/packing.ts';
import { numel, type F32Tensor, type Tensor } from '../tensor.ts';
import type { HfTokenizerOptions } from '../tokenizers/hf-tokenizer.ts';
import type { TokenizerFiles } from '../tokenizers/tokenizer-files.ts';

const MAX_HEADER = 16 << 20;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => Number.isInteger(v);

/** The header's config, checked as a llama2.c header is (shared with core/model-inspect.ts). */
export function readNibbleConfig(v: unknown): LlamaConfig {
  if (!isObj(v)) throw bad('header has no config object');
  const n = (k: string) => {
    if (!isInt(v[k])) throw bad(`config.${k} must be a whole number, got ${show(v[k])}`);
    return v[k] as number;
  };
  const c = validateHeader({
    dim: n('dim'),
    hiddenDim: n('hiddenDim'),
    nLayers: n('nLayers'),
    nHeads: n('nHeads'),
    nKvHeads: n('nKvHeads'),
    vocabSize: n('vocabSize'),
    seqLen: n('seqLen'),
    shared: v.sharedClassifier === true,
  });
  const eps = v.normEps,
    theta = v.ropeTheta,
    style = v.ropeStyle;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) throw bad(`config.normEps ${String(eps)} is not in (0, 1)`);
  if (typeof theta !== 'number' || !(theta > 0 && Number.isFinite(theta)))
    throw bad(`config.ropeTheta ${String(theta)} is not a positive number`);
  if (style !== 'interleaved' && style !== 'half')
    throw bad(`config.ropeStyle must be 'interleaved' or 'half', got ${show(style)}`);
  return { ...c, normEps: eps, ropeTheta: theta, ropeStyle: style };
}

/** Exact byte size of each buffer a tensor of this format and shape must have. */
function expectedBuffers(name: string, e: Obj, shape: number[]): Partial<Record<BufferName, number>> {
  const f = e.format;
  const n = numel(shape);
  const [rows, cols] = shape;
  const words = (k: number) => 4 * k;
  if (f === 'f32') return { data: 4 * n };
  if (shape.length !== 2) throw bad(`${name}: format ${String(f)} needs a matrix`);
  if (f === 'f16') return { data: words(Math.ceil(n / 2)) }; // fp16 pairs, stored bit-exactly
  if (typeof f === 'string' && isUniformFormat(f)) {
    const g = e.group;
    if (!isInt(g) || g < 1 || g > cols) throw bad(`${name}: group ${show(g)} is not in 1..${cols}`);
    if (typeof e.sym !== 'boolean') throw bad(`${name}: sym must be true or false`);
    if (e.granularity !== 'tensor' && e.granularity !== 'row' && e.granularity !== 'group')
      throw bad(`${name}: unknown granularity ${show(e.granularity)}`);
    const groups = rows * Math.ceil(cols / g);
    const scales = e.scaleType === 'f32' ? words(groups) : e.scaleType === 'f16' ? words(Math.ceil(groups / 2)) : NaN;
    if (Number.isNaN(scales)) throw bad(`${name}: scaleType must be 'f32' or 'f16', got ${show(e.scaleType)}`);
    const out: Partial<Record<BufferName, number>> = { data: words(rows * wordsPerRow(UNIFORM_BITS[f], cols)), scales };
    if (!e.sym) out.zeros = words(Math.ceil(groups / 4));
    out.gIdx = words(cols); // optional
    return out;
  }
  if (typeof f === 'string' && isCodebookFormat(f)) {
    const g = e.group;
    if (!isInt(g) || g < 1 || g > n) throw bad(`${name}: block size ${show(g)} is not in 1..${n}`);
    const blocks = Math.ceil(n / g);
    if (e.scaleType === 'f32') return { data: words(Math.ceil(n / 8)), scales: words(blocks) };
    if (e.scaleType !== 'dq8') throw bad(`${name}: scaleType must be 'f32' or 'dq8', got ${show(e.scaleType)}`);
    if (typeof e.scaleOffset !== 'number' || !Number.isFinite(e.scaleOffset))
      throw bad(`${name}: dq8 needs a finite scaleOffset`);
    return {
      data: words(Math.ceil(n / 8)),
      scales: words(Math.ceil(blocks / 4)),
      scales2: words(Math.ceil(blocks / 256)),
    };
  }
  if (f === 'llmint8') {
    if (e.threshold !== null && !(typeof e.threshold === 'number' && e.threshold > 0))
      throw bad(`${name}: threshold must be a positive number or null`);
    return { data: words(rows * Math.ceil(cols / 4)), scales: words(rows) };
  }
  throw bad(`${name}: unknown format ${show(f)}`);
}

/** Checks the 12-byte prelude (magic, version, header length) of a file of `size` bytes; returns the header length. */
export function nibbleHeaderLength(first12: Uint8Array, size: number): number {
  if (size < 12 || first12.byteLength < 12)
    throw new NibbleError('truncated', `nibble file: expected at least 12 bytes, file has ${size}`);
  const dv = new DataView(first12.buffer, first12.byteOffset, 12);
  if (dv.getUint32(0, true) !== NIBBLE_MAGIC) throw bad('no "NIBL" magic at the start');
  const version = dv.getUint32(4, true);
  if (version !== NIBBLE_VERSION)
    throw new NibbleError(
      'unsupported',
      `nibble file version ${version} is not supported (this build reads version ${NIBBLE_VERSION})`,
    );
  const hlen = dv.getUint32(8, true);
  if (hlen > MAX_HEADER) throw bad(`header length ${hlen} exceeds ${MAX_HEADER} bytes`);
  if (12 + hlen > size)
    throw new NibbleError('truncated', `nibble file: header needs ${12 + hlen} bytes, file has ${size}`);
  return hlen;
}

/** The header JSON (its bytes after the prelude): an object with a tensors object, or 'bad-format'. */
export function parseNibbleHeader(json: Uint8Array): Obj & { tensors: Obj } {
  let header: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw bad('header is not valid UTF-8');
  }
  requireJsonDepth(text, 'nibble file header');
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw bad(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isObj(header) || !isObj(header.tensors)) throw bad('header has no tensors object');
  return header as Obj & { tensors: Obj };
}

/** Zero points are codes: each of the `n` bytes (4 per word) must be on the 0..2^bits − 1 grid. */
function requireZerosOnGrid(name: string, zeros: Uint32Array, n: number, bits: number): void {
  const top = (1 << bits) - 1;
  for (let i = 0; i < n; i++) {
    const z = (zeros[i >> 2] >>> (8 * (i & 3))) & 0xff;
    if (z > top) throw bad(`${name}: zero point ${i} is ${z}, outside the ${bits}-bit grid 0..${top}`);
  }
}

export function readNibbleFile(bytes: Uint8Array): NibbleFile {
  const size = bytes.byteLength;
  const hlen = nibbleHeaderLength(bytes.subarray(0, 12), size);
  const header = parseNibbleHeader(bytes.subarray(12, 12 + hlen));
  const config = readNibbleConfig(header.config);
  const entries = header.tensors;
  const ranges: [number, number, string][] = [];
  const blobBytes = (what: string, b: unknown, need: number): Uint8Array => {
    if (!isObj(b) || !isInt(b.offset) || !isInt(b.bytes))
      throw bad(`${what}: buffer needs whole-number offset and bytes`);
    const { offset, bytes: len } = b as unknown as Blob;
    if (len !== need) throw bad(`${what}: buffer holds ${len} bytes, its shape and format need ${need}`);
    if (offset < 12 + hlen || offset % 4 !== 0)
      throw bad(`${what}: offset ${offset} is inside the header or not 4-byte aligned`);
    if (offset + len > size)
      throw new NibbleError('truncated', `nibble file: ${what} needs bytes up to ${offset + len}, file has ${size}`);
    ranges.push([offset, offset + len, what]);
    return bytes.subarray(offset, offset + len);
  };
  const copyU32 = (b: Uint8Array) => new Uint32Array(b.slice().buffer);
  const copyF32 = (b: Uint8Array) => new Float32Array(b.slice().buffer);

  const used = new Set<string>(); // every tensor entry must be read: extra ones mean the counts disagree
  const tensor = (name: string): Tensor => {
    used.add(name);
    const e = entries[name];
    if (!isObj(e)) throw bad(`tensor ${name} is missing`);
    const shape = expectedShape(name, config);
    if (!Array.isArray(e.shape) || e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw bad(`${name}: shape ${show(e.shape)} does not match the config's [${shape}]`);
    }
    if (shape.length === 1 && e.format !== 'f32') throw bad(`${name}: norm weights must be f32`);
    const need = expectedBuffers(name, e, shape);
    const bufs = isObj(e.buffers) ? e.buffers : {};
    for (const k of Object.keys(bufs))
      if (!(k in need)) throw bad(`${name}: unexpected buffer '${k}' for format ${String(e.format)}`);
    const get = (k: BufferName, optional = false) =>
      optional && bufs[k] === undefined ? undefined : blobBytes(`${name}.${k}`, bufs[k], need[k]!);
    if (e.format === 'f32') return { format: 'f32', shape, data: copyF32(get('data')!) };
    if (e.format === 'f16') return { format: 'f16', shape, data: copyU32(get('data')!) };
    if (e.format === 'llmint8') {
      return {
        format: 'llmint8',
        shape: [shape[0], shape[1]],
        threshold: e.threshold === null ? Infinity : (e.threshold as number),
        buffers: { data: copyU32(get('data')!), scales: copyF32(get('scales')!) },
      };
    }
    const data = copyU32(get('data')!);
    if (isUniformFormat(e.format as string)) {
      const scalesRaw = get('scales')!;
      const zeros = e.sym ? undefined : copyU32(get('zeros')!);
      const gRaw = get('gIdx', true);
      const gIdx = gRaw ? copyU32(gRaw) : undefined;
      const nGroups = Math.ceil(shape[1] / (e.group as number));
      if (gIdx && gIdx.some((g) => g >= nGroups)) throw bad(`${name}: gIdx has a group index ≥ ${nGroups}`);
      if (zeros) requireZerosOnGrid(name, zeros, shape[0] * nGroups, UNIFORM_BITS[e.format as 'q4']);
      return {
        format: e.format as 'q4',
        shape: [shape[0], shape[1]],
        granularity: e.granularity as 'row',
        group: e.group as number,
        sym: e.sym as boolean,
        scaleType: e.scaleType as 'f32',
        buffers: {
          data,
          scales: e.scaleType === 'f16' ? copyU32(scalesRaw) : copyF32(scalesRaw),
          ...(zeros ? { zeros } : {}),
          ...(gIdx ? { gIdx } : {}),
        },
      };
    }
    const base = { format: e.format as 'nf4', shape, group: e.group as number, sym: true as const };
    if (e.scaleType === 'f32') return { ...base, scaleType: 'f32', buffers: { data, scales: copyF32(get('scales')!) } };
    return {
      ...base,
      scaleType: 'dq8',
      scaleOffset: e.scaleOffset as number,
      buffers: { data, scales: copyU32(get('scales')!), scales2: copyF32(get('scales2')!) },
    };
  };

  const tokEmb = tensor('tok_emb');
  const rmsFinal = tensor('rms_final');
  const wcls = config.sharedClassifier ? tokEmb : tensor('wcls');
  const layers = Array.from(
    { length: config.nLayers },
    (_, l) => Object.fromEntries(LAYER_KEYS.map((k) => [k, tensor(`layers.${l}.${k}`)])) as unknown as LayerWeights,
  );
  // Attention biases: all layers or none (the first layer's bq decides).
  const attnBias =
    entries['layers.0.bq'] === undefined
      ? undefined
      : Array.from({ length: config.nLayers }, (_, l) => ({
          bq: tensor(`layers.${l}.bq`) as F32Tensor,
          bk: tensor(`layers.${l}.bk`) as F32Tensor,
          bv: tensor(`layers.${l}.bv`) as F32Tensor,
        }));
  const optionalBlob = (what: string, t: unknown): Uint8Array | null => {
    if (t === null || t === undefined) return null;
    if (!isObj(t) || !isInt(t.bytes) || t.bytes < 1 || t.bytes > size) throw bad(`${what} blob has an impossible size`);
    return blobBytes(what, t, t.bytes).slice();
  };
  const tokenizer = optionalBlob('tokenizer', header.tokenizer);
  let tokenizerFiles: TokenizerFiles | null = tokenizer ? { kind: 'llama2c', bytes: tokenizer } : null;
  if (header.hfTokenizer !== null && header.hfTokenizer !== undefined) {
    const h = header.hfTokenizer;
    if (!isObj(h)) throw bad('hfTokenizer must be an object');
    const options = hfOptions(h.options);
    tokenizerFiles = {
      kind: 'hf',
      json:
        optionalBlob('tokenizer.json', h.json) ??
        (() => {
          throw bad('hfTokenizer has no json blob');
        })(),
      config: optionalBlob('tokenizer_config.json', h.config) ?? undefined,
      ...(options ? { options } : {}),
    };
  }
  for (const name of Object.keys(entries))
    if (!used.has(name)) {
      const why =
        name === 'wcls'
          ? 'config.sharedClassifier is true, so a separate classifier is never read'
          : `the config has nLayers ${config.nLayers}${attnBias ? '' : ' and no attention biases'}`;
      throw bad(`tensor ${name} is in the file but unused (${why}): the header's counts disagree with its tensors`);
    }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw bad(`${ranges[i][2]} overlaps ${ranges[i - 1][2]}`);
  }
  const model = { config, weights: { tokEmb, rmsFinal, wcls, layers, ...(attnBias ? { attnBias } : {}) } };
  requireFiniteWeights(model, 'nibble file');
  return {
    model,
    tokenizer,
    tokenizerFiles,
    label: typeof header.label === 'string' ? header.label : null,
    spec: header.spec ?? null,
  };
}

/** hfTokenizer.options: BOS/EOS ids and a chat template, each checked (absent → undefined). */
function hfOptions(o: unknown): HfTokenizerOptions | undefined {
  if (o === null || o === undefined) return undefined;
  if (!isObj(o)) throw bad('hfTokenizer.options must be an object');
  const id = (v: unknown, what: string) => {
    if (!isInt(v) || v < 0 || v >= 1 << 20) throw bad(`hfTokenizer.options.${what} must be a token id, got ${show(v)}`);
    return v as number;
  };
  const out: HfTokenizerOptions = {};
  if (o.bosId !== undefined && o.bosId !== null) out.bosId = id(o.bosId, 'bosId');
  if (o.eosIds !== undefined && o.eosIds !== null) {
    if (!Array.isArray(o.eosIds) || o.eosIds.length > 64)
      throw bad('hfTokenizer.options.eosIds must be a list of at most 64 ids');
    out.eosIds = o.eosIds.map((v) => id(v, 'eosIds'));
  }
  if (o.chatTemplate !== undefined && o.chatTemplate !== null) {
    if (typeof o.chatTemplate !== 'string') throw bad('hfTokenizer.options.chatTemplate must be a string');
    out.chatTemplate = o.chatTemplate;
  }
  return out;
}
