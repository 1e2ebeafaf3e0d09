// safetensors reader (and a small writer for fixtures and exports).
//
// Layout: u64 LE header length N | N bytes of UTF-8 JSON | data section.
//   JSON: { "<name>": { dtype, shape: [d0, …], data_offsets: [b, e] }, "__metadata__"?: {str: str} }
//   b, e are byte offsets relative to the start of the data section (8 + N).
// Validation follows the reference implementation (the Rust `safetensors` crate) and is done on
// the header alone, before any tensor is allocated:
//   8 + N ≤ file size, N ≤ MAX_HEADER_BYTES; every number a non-negative safe integer;
//   numel · dtypeSize = e − b (computed without overflow, bounded by the data size);
//   0 ≤ b ≤ e ≤ data size; sorted by b, the tensors tile the data section exactly: no overlap,
//   no gap, nothing after the last one.
// So a reader allocates at most numel · 4 bytes per tensor, where numel · dtypeSize ≤ the file.
import { NibbleError } from '../errors.ts';
import { bf16ToF32, f16ToF32 } from './hf/half.ts';
import { isObject, parseJsonObject, show } from './hf/json.ts';
import { f32Tensor, type F16Tensor, type F32Tensor } from '../tensor.ts';
import { f16TensorFromBf16Bytes, f16TensorFromF16Bytes, type Bf16Narrowing } from './f16-tensor.ts';

/** Header size cap of the reference implementation (100 MB): larger means corrupt. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of every dtype the format defines; only F32/F16/BF16 can be read as floats. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

export interface SafetensorsEntry {
  name: string;
  dtype: string; // a key of DTYPE_BYTES
  shape: number[];
  numel: number;
  begin: number; // absolute byte offset in the file
  end: number; // exclusive; end − begin = numel · dtype size
}

export interface SafetensorsFile {
  fileName: string;
  size: number; // bytes in the file
  bytes?: Uint8Array; // the whole file (not copied), when it was parsed from memory
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
}

/** Ranged access to one file (a browser File's slice(), a Node FileHandle): read only what is needed. */
export interface RangeReader {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

const bad = (file: string, msg: string) => new NibbleError('bad-format', `${file}: ${msg}`);

/** The header length N from the first 8 bytes, checked against the file size and the cap. */
function headerLength(first8: Uint8Array, size: number, fileName: string): number {
  if (size < 8 || first8.byteLength < 8)
    throw new NibbleError('truncated', `${fileName}: expected at least 8 bytes (header length), file has ${size}`);
  const nBig = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (nBig > BigInt(size - 8)) {
    throw new NibbleError('truncated', `${fileName}: header length ${nBig} needs ${nBig + 8n} bytes, file has ${size}`);
  }
  const n = Number(nBig); // ≤ size − 8: exact
  if (n > MAX_HEADER_BYTES) throw bad(fileName, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (n < 2) throw bad(fileName, `header length ${n} is too small for a JSON object`);
  return n;
}

/** Validates the header JSON (bytes 8 .. 8 + n) of a file of `size` bytes. */
function parseHeader(json: Uint8Array, n: number, size: number, fileName: string): Omit<SafetensorsFile, 'bytes'> {
  const header = parseJsonObject(json, `${fileName} header`);
  const dataStart = 8 + n;
  const dataLen = size - dataStart;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = readMetadata(v, fileName);
      continue;
    }
    tensors.set(name, readEntry(name, v, fileName, dataStart, dataLen));
  }
  checkTiling([...tensors.values()], fileName, dataStart, dataLen);
  return { fileName, size, metadata, tensors };
}

/** Parses and validates the header of a file in memory; no tensor data is read or copied. */
export function parseSafetensors(bytes: Uint8Array, fileName = 'model.safetensors'): SafetensorsFile {
  const n = headerLength(bytes, bytes.byteLength, fileName);
  return { ...parseHeader(bytes.subarray(8, 8 + n), n, bytes.byteLength, fileName), bytes };
}

/** As parseSafetensors, reading only the 8 + N header bytes through `reader`. */
export async function parseSafetensorsHeader(
  reader: RangeReader,
  fileName = 'model.safetensors',
): Promise<SafetensorsFile> {
  const first8 = reader.size >= 8 ? await reader.read(0, 8) : new Uint8Array(0);
  const n = headerLength(first8, reader.size, fileName);
  const json = await reader.read(8, n);
  if (json.byteLength !== n)
    throw new NibbleError('truncated', `${fileName}: read ${json.byteLength} header bytes, expected ${n}`);
  return parseHeader(json, n, reader.size, fileName);
}

function readMetadata(v: unknown, file: string): Record<string, string> {
  if (!isObject(v)) throw bad(file, `__metadata__ must be an object of strings, got ${show(v)}`);
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw bad(file, `__metadata__.${k} must be a string, got ${show(s)}`);
  }
  return v as Record<string, string>;
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function readEntry(name: string, v: unknown, file: string, dataStart: number, dataLen: number): SafetensorsEntry {
  if (!isObject(v)) throw bad(file, `tensor "${name}" must be an object, got ${show(v)}`);
  const { dtype, shape, data_offsets: offs } = v;
  if (typeof dtype !== 'string') throw bad(file, `tensor "${name}": dtype must be a string, got ${show(dtype)}`);
  const width = Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype] : undefined;
  if (width === undefined)
    throw new NibbleError(
      'unsupported',
      `${file}: tensor "${name}" has dtype ${show(dtype)}, which safetensors does not define (F32, F16 and BF16 are read)`,
    );
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new NibbleError(
      'bad-dims',
      `${file}: tensor "${name}": shape must be a list of non-negative whole numbers, got ${show(shape)}`,
    );
  }
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) {
    throw bad(file, `tensor "${name}": data_offsets must be two non-negative whole numbers, got ${show(offs)}`);
  }
  const [b, e] = offs as number[];
  if (b > e) throw bad(file, `tensor "${name}": data_offsets [${b}, ${e}] end before they begin`);
  if (e > dataLen) {
    throw new NibbleError(
      'truncated',
      `${file}: tensor "${name}" ends at byte ${dataStart + e}, file has ${dataStart + dataLen} (data_offsets [${b}, ${e}], data section ${dataLen} bytes)`,
    );
  }
  // numel without overflow: stop multiplying once it alone exceeds the data section (then it
  // cannot fit); otherwise numel ≤ dataLen, so numel · width is exact.
  let numel = 1;
  let past = false;
  for (const d of shape as number[]) {
    numel *= d;
    if (numel > dataLen) {
      past = true;
      break;
    }
  }
  if ((shape as number[]).includes(0)) [numel, past] = [0, false];
  if (past || numel * width !== e - b) {
    const need = past ? `more than ${dataLen}` : `${numel * width}`;
    throw new NibbleError(
      'bad-dims',
      `${file}: tensor "${name}" (${dtype} [${shape}]) needs ${need} bytes, data_offsets [${b}, ${e}] hold ${e - b}`,
    );
  }
  return { name, dtype, shape: (shape as number[]).slice(), numel, begin: dataStart + b, end: dataStart + e };
}

/** Sorted by offset, the tensors must cover the data section exactly once. */
function checkTiling(entries: SafetensorsEntry[], file: string, dataStart: number, dataLen: number): void {
  entries.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = dataStart;
  let prev = '(header)';
  for (const t of entries) {
    if (t.begin < at)
      throw bad(
        file,
        `tensor "${t.name}" (bytes ${t.begin - dataStart}..${t.end - dataStart}) overlaps "${prev}" (ends at ${at - dataStart})`,
      );
    if (t.begin > at)
      throw bad(
        file,
        `bytes ${at - dataStart}..${t.begin - dataStart} of the data section belong to no tensor (before "${t.name}")`,
      );
    at = t.end;
    prev = t.name;
  }
  if (at !== dataStart + dataLen) {
    throw bad(
      file,
      `the tensors end at byte ${at} but the file has ${dataStart + dataLen} (${dataStart + dataLen - at} bytes belong to no tensor)`,
    );
  }
}

/** A tensor's values as a new f32 tensor (F32 copied, F16/BF16 converted); other dtypes: 'unsupported'. */
export function readTensorF32(file: SafetensorsFile, name: string): F32Tensor {
  const t = file.tensors.get(name);
  if (!t) throw new NibbleError('bad-format', `${file.fileName}: no tensor "${name}"`);
  if (!file.bytes)
    throw new NibbleError('bad-argument', `${file.fileName}: parsed from a header only; use readTensorF32Ranged`);
  return decodeTensor(file.fileName, t, file.bytes, t.begin);
}

/** As readTensorF32, reading just the tensor's bytes (e − b of them) through `reader`. */
export async function readTensorF32Ranged(
  file: SafetensorsFile,
  name: string,
  reader: RangeReader,
): Promise<F32Tensor> {
  const t = file.tensors.get(name);
  if (!t) throw new NibbleError('bad-format', `${file.fileName}: no tensor "${name}"`);
  checkFloat(file.fileName, t);
  const bytes = await reader.read(t.begin, t.end - t.begin);
  if (bytes.byteLength !== t.end - t.begin)
    throw new NibbleError(
      'truncated',
      `${file.fileName}: read ${bytes.byteLength} bytes of "${name}", expected ${t.end - t.begin}`,
    );
  return decodeTensor(file.fileName, t, bytes, 0);
}

function checkFloat(fileName: string, t: SafetensorsEntry): void {
  if (!(FLOAT_DTYPES as readonly string[]).includes(t.dtype)) {
    throw new NibbleError(
      'unsupported',
      `${fileName}: tensor "${t.name}" is ${t.dtype}; only F32, F16 and BF16 weights can be loaded`,
    );
  }
}

/**
 * A tensor as loaded: F16 and BF16 matrices (2-D) stay 16-bit (F16Tensor: F16 copied code for
 * code, BF16 rounded to f16 with what f16 cannot hold counted in `note`); vectors and F32 are f32.
 */
export function readTensor(file: SafetensorsFile, name: string, note: Bf16Narrowing): F32Tensor | F16Tensor {
  const t = file.tensors.get(name);
  if (!t) throw new NibbleError('bad-format', `${file.fileName}: no tensor "${name}"`);
  if (!file.bytes)
    throw new NibbleError('bad-argument', `${file.fileName}: parsed from a header only; use readTensorRanged`);
  return decodeTensor16(file.fileName, t, file.bytes, t.begin, note);
}

/** As readTensor, reading just the tensor's bytes through `reader`. */
export async function readTensorRanged(
  file: SafetensorsFile,
  name: string,
  reader: RangeReader,
  note: Bf16Narrowing,
): Promise<F32Tensor | F16Tensor> {
  const t = file.tensors.get(name);
  if (!t) throw new NibbleError('bad-format', `${file.fileName}: no tensor "${name}"`);
  checkFloat(file.fileName, t);
  if (t.shape.length !== 2 || t.dtype === 'F32') return readTensorF32Ranged(file, name, reader);
  const bytes = await reader.read(t.begin, t.end - t.begin);
  if (bytes.byteLength !== t.end - t.begin)
    throw new NibbleError(
      'truncated',
      `${file.fileName}: read ${bytes.byteLength} bytes of "${name}", expected ${t.end - t.begin}`,
    );
  return decodeTensor16(file.fileName, t, bytes, 0, note);
}

function decodeTensor16(
  fileName: string,
  t: SafetensorsEntry,
  bytes: Uint8Array,
  at: number,
  note: Bf16Narrowing,
): F32Tensor | F16Tensor {
  checkFloat(fileName, t);
  if (t.shape.length === 2 && t.dtype === 'F16') return f16TensorFromF16Bytes(t.shape, bytes, at);
  if (t.shape.length === 2 && t.dtype === 'BF16') return f16TensorFromBf16Bytes(t.shape, bytes, at, note);
  return decodeTensor(fileName, t, bytes, at);
}

/** Decodes tensor `t` whose data starts at bytes[at] (numel · dtype size bytes, validated). */
function decodeTensor(fileName: string, t: SafetensorsEntry, bytes: Uint8Array, at: number): F32Tensor {
  checkFloat(fileName, t);
  if (t.dtype === 'F16') return f32Tensor(t.shape, f16ToF32(bytes, at, t.numel));
  if (t.dtype === 'BF16') return f32Tensor(t.shape, bf16ToF32(bytes, at, t.numel));
  const out = new Float32Array(t.numel); // F32: an aligned copy, independent of the file buffer
  new Uint8Array(out.buffer).set(bytes.subarray(at, at + 4 * t.numel));
  return f32Tensor(t.shape, out);
}

// ---- sharded checkpoints -------------------------------------------------------------------------

export const INDEX_FILE = 'model.safetensors.index.json';

/** model.safetensors.index.json → tensor name → shard file name (plain names only, no paths). */
export function parseSafetensorsIndex(bytes: Uint8Array): Map<string, string> {
  const json = parseJsonObject(bytes, INDEX_FILE);
  const map = json.weight_map;
  if (!isObject(map)) throw bad(INDEX_FILE, `weight_map must be an object, got ${show(map)}`);
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    // A plain name of at most 255 bytes (every file system's limit), no separators or control characters.
    if (
      typeof shard !== 'string' ||
      !/^[^/\\\u0000-\u001f]+\.safetensors$/.test(shard) ||
      shard.startsWith('.') ||
      new TextEncoder().encode(shard).byteLength > 255
    ) {
      throw bad(
        INDEX_FILE,
        `weight_map[${show(name)}] must name a .safetensors file in the same folder (a plain name of at most 255 bytes), got ${show(shard)}`,
      );
    }
    out.set(name, shard);
  }
  return out;
}

// ---- writer ----------------------------------------------------------------------------------------

export interface SafetensorsInput {
  name: string;
  dtype: string;
  shape: number[];
  data: Uint8Array; // raw little-endian bytes, numel · dtype size
}

/** Encodes tensors in the given order; the header is space-padded so the data starts 8-aligned. */
export function encodeSafetensors(tensors: readonly SafetensorsInput[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    const width = DTYPE_BYTES[t.dtype];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (width === undefined || numel * width !== t.data.byteLength) {
      throw new NibbleError(
        'bad-argument',
        `safetensors writer: "${t.name}" (${t.dtype} [${t.shape}]) has ${t.data.byteLength} bytes, expected ${numel * (width ?? NaN)}`,
      );
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(padded - json.byteLength));
  const out = new Uint8Array(8 + json.byteLength + off);
  new DataView(out.buffer).setUint32(0, json.byteLength, true); // N < 2^32 here: high word stays 0
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}
