// GGUF reader (versions 2 and 3): header, metadata, tensor infos and the data section, every
// field checked against the byte length before anything is allocated:
//   - counts (tensor_count, kv_count, array lengths, string lengths) are u64 and bounded by the
//     bytes left, each item taking at least its minimal encoded size;
//   - tensor infos: 1 ≤ n_dims ≤ 4, every ne ≥ 1, ne[0] a multiple of the block size, the element
//     count bounded, a known type, offset aligned, [offset, offset + bytes) inside the data
//     section and overlapping no other tensor, unique names;
//   - general.alignment a u32 power of two; nested arrays at most MAX_ARRAY_DEPTH deep.
// Layout and type ids: types.ts. Tensor values are decoded on demand (tensorF32 in llama.ts).
// Two entry points: parseGguf (the whole file in memory) and readGgufHeader (by ranges: a prefix
// that grows until the header parses, capped, so a file is never read whole just to see its
// header; every bound is still checked against the file's full size).
import { NibbleError } from '../../errors.ts';
import type { RangeReader } from '../safetensors.ts';
import {
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GgufValueType,
  SCALAR_BYTES,
  ggmlTypeName,
  type GgmlType,
  type GgufArray,
  type GgufFile,
  type GgufKv,
  type GgufTensorInfo,
  type GgufValue,
} from './types.ts';

const MAX_ARRAY_DEPTH = 4; // arrays of arrays of …: enough for any real file, no deep recursion
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_NUMEL = 2 ** 40; // far beyond any model this app runs; keeps every size an exact integer
const MIN_KV_BYTES = 8 + 4 + 1; // empty key, type, a 1-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8; // empty name, n_dims = 1, one ne, type, offset

const bad = (msg: string) => new NibbleError('bad-format', `GGUF: ${msg}`);

/** Thrown when the bytes in hand (a prefix) end before the header does but the file goes on. */
class NeedMore extends Error {}

/**
 * Sequential little-endian reader that never reads past the end and never trusts a count.
 * `bytes` may be a prefix of a file of `size` bytes: bounds are the file's, and a read past the
 * prefix (inside the file) throws NeedMore.
 */
class Cursor {
  pos = 0;
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  constructor(
    readonly bytes: Uint8Array,
    readonly size = bytes.byteLength,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get left(): number {
    return this.size - this.pos;
  }
  need(n: number, what: string): void {
    if (n > this.left) {
      throw new NibbleError(
        'truncated',
        `GGUF: ${what} needs ${n} bytes at offset ${this.pos}, the file has ${this.left} left (${this.size} in all)`,
      );
    }
    if (this.pos + n > this.bytes.byteLength) throw new NeedMore();
  }
  private step(n: number, what: string): number {
    this.need(n, what);
    const p = this.pos;
    this.pos += n;
    return p;
  }
  u8 = (w: string) => this.view.getUint8(this.step(1, w));
  i8 = (w: string) => this.view.getInt8(this.step(1, w));
  u16 = (w: string) => this.view.getUint16(this.step(2, w), true);
  i16 = (w: string) => this.view.getInt16(this.step(2, w), true);
  u32 = (w: string) => this.view.getUint32(this.step(4, w), true);
  i32 = (w: string) => this.view.getInt32(this.step(4, w), true);
  f32 = (w: string) => this.view.getFloat32(this.step(4, w), true);
  f64 = (w: string) => this.view.getFloat64(this.step(8, w), true);
  u64big = (w: string) => this.view.getBigUint64(this.step(8, w), true);
  i64big = (w: string) => this.view.getBigInt64(this.step(8, w), true);

  /** A u64 count or size that must not exceed `max` (so it is also an exact JS number). */
  count(what: string, max: number): number {
    const v = this.u64big(what);
    if (v > BigInt(max)) throw bad(`${what} = ${v} exceeds what ${this.size} bytes can hold (at most ${max})`);
    return Number(v);
  }

  /** u64 length + UTF-8 bytes; the length is bounded by the bytes left. */
  string(what: string): string {
    const n = this.count(`${what} length`, this.left - 8);
    const p = this.step(n, what);
    try {
      return this.utf8.decode(this.bytes.subarray(p, p + n));
    } catch {
      throw bad(`${what} at offset ${p} is not valid UTF-8`);
    }
  }

  /** `n` fixed-size elements copied into a fresh (aligned) typed array; n·size already bounded. */
  typed<T>(n: number, size: number, what: string, make: (buf: ArrayBuffer) => T): T {
    const p = this.step(n * size, what);
    return make(this.bytes.slice(p, p + n * size).buffer);
  }
}

function readValue(cur: Cursor, type: number, what: string, depth: number): GgufValue {
  switch (type) {
    case GgufValueType.U8:
      return cur.u8(what);
    case GgufValueType.I8:
      return cur.i8(what);
    case GgufValueType.U16:
      return cur.u16(what);
    case GgufValueType.I16:
      return cur.i16(what);
    case GgufValueType.U32:
      return cur.u32(what);
    case GgufValueType.I32:
      return cur.i32(what);
    case GgufValueType.F32:
      return cur.f32(what);
    case GgufValueType.F64:
      return cur.f64(what);
    case GgufValueType.U64:
      return cur.u64big(what);
    case GgufValueType.I64:
      return cur.i64big(what);
    case GgufValueType.BOOL: {
      const b = cur.u8(what);
      if (b > 1) throw bad(`${what}: bool byte ${b} (must be 0 or 1)`);
      return b === 1;
    }
    case GgufValueType.STRING:
      return cur.string(what);
    case GgufValueType.ARRAY:
      return readArray(cur, what, depth + 1);
    default:
      throw bad(`${what}: unknown value type ${type} at offset ${cur.pos - 4}`);
  }
}

function readArray(cur: Cursor, what: string, depth: number): GgufArray {
  if (depth > MAX_ARRAY_DEPTH) throw bad(`${what}: arrays nested more than ${MAX_ARRAY_DEPTH} deep`);
  const elemType = cur.u32(`${what} element type`) as GgufValueType;
  // The smallest encoding of one element bounds the count by the bytes left.
  const minElem =
    SCALAR_BYTES[elemType] ?? (elemType === GgufValueType.STRING ? 8 : elemType === GgufValueType.ARRAY ? 12 : 0);
  if (minElem === 0) throw bad(`${what}: unknown array element type ${elemType}`);
  const n = cur.count(`${what} array length`, Math.floor((cur.left - 8) / minElem));
  const el = `${what} array data`;
  switch (elemType) {
    case GgufValueType.U8:
      return { elemType, values: cur.typed(n, 1, el, (b) => new Uint8Array(b)) };
    case GgufValueType.I8:
      return { elemType, values: cur.typed(n, 1, el, (b) => new Int8Array(b)) };
    case GgufValueType.U16:
      return { elemType, values: cur.typed(n, 2, el, (b) => new Uint16Array(b)) };
    case GgufValueType.I16:
      return { elemType, values: cur.typed(n, 2, el, (b) => new Int16Array(b)) };
    case GgufValueType.U32:
      return { elemType, values: cur.typed(n, 4, el, (b) => new Uint32Array(b)) };
    case GgufValueType.I32:
      return { elemType, values: cur.typed(n, 4, el, (b) => new Int32Array(b)) };
    case GgufValueType.F32:
      return { elemType, values: cur.typed(n, 4, el, (b) => new Float32Array(b)) };
    case GgufValueType.F64:
      return { elemType, values: cur.typed(n, 8, el, (b) => new Float64Array(b)) };
    case GgufValueType.U64:
      return { elemType, values: cur.typed(n, 8, el, (b) => new BigUint64Array(b)) };
    case GgufValueType.I64:
      return { elemType, values: cur.typed(n, 8, el, (b) => new BigInt64Array(b)) };
    default: {
      const values: GgufValue[] = [];
      for (let i = 0; i < n; i++) values.push(readValue(cur, elemType, `${what}[${i}]`, depth));
      return { elemType, values } as GgufArray;
    }
  }
}

function readHeader(cur: Cursor): { version: 2 | 3; tensorCount: number; kvCount: number } {
  const magic = cur.u32('magic');
  if (magic !== GGUF_MAGIC)
    throw bad(`not a GGUF file (magic 0x${magic.toString(16).padStart(8, '0')}, expected "GGUF")`);
  const version = cur.u32('version');
  if (version !== 2 && version !== 3) {
    if (version === 1)
      throw new NibbleError(
        'unsupported',
        'GGUF version 1 (32-bit counts) is not supported: re-convert with a current llama.cpp',
      );
    if ((version & 0xffff) === 0 && version >>> 24 <= 3)
      throw new NibbleError(
        'unsupported',
        'GGUF: this is a big-endian GGUF file; only little-endian files are supported',
      );
    throw new NibbleError('unsupported', `GGUF version ${version} is not supported (2 and 3 are)`);
  }
  const tensorCount = cur.count('tensor_count', Math.floor((cur.left - 16) / MIN_TENSOR_INFO_BYTES));
  const kvCount = cur.count('kv_count', Math.floor((cur.left - 8) / MIN_KV_BYTES));
  return { version, tensorCount, kvCount };
}

function readTensorInfo(cur: Cursor, i: number): GgufTensorInfo {
  const name = cur.string(`tensor ${i} name`);
  const nDims = cur.u32(`tensor '${name}' n_dims`);
  if (nDims < 1 || nDims > MAX_DIMS)
    throw new NibbleError('bad-dims', `GGUF: tensor '${name}' has ${nDims} dimensions (1..${MAX_DIMS} supported)`);
  const ne: number[] = [];
  let numel = 1;
  for (let d = 0; d < nDims; d++) {
    const v = cur.u64big(`tensor '${name}' ne[${d}]`);
    if (v < 1n || v > BigInt(MAX_NUMEL))
      throw new NibbleError('bad-dims', `GGUF: tensor '${name}' ne[${d}] = ${v} (must be 1..2^40)`);
    ne.push(Number(v));
    numel *= Number(v);
    if (numel > MAX_NUMEL) throw new NibbleError('bad-dims', `GGUF: tensor '${name}' has more than 2^40 elements`);
  }
  const type = cur.u32(`tensor '${name}' type`);
  const info = GGML_TYPES[type];
  if (!info)
    throw new NibbleError(
      'unsupported',
      `GGUF: tensor '${name}' has ggml type ${ggmlTypeName(type)} (${type}); supported: ${Object.values(GGML_TYPES)
        .map((t) => t.name)
        .join(', ')}`,
    );
  if (ne[0] % info.blockSize !== 0)
    throw new NibbleError(
      'bad-dims',
      `GGUF: tensor '${name}' row length ${ne[0]} is not a multiple of the ${info.name} block size ${info.blockSize}`,
    );
  // Bounded here only to stay an exact number; a cut file fails the data-section check ('truncated').
  const offset = cur.count(`tensor '${name}' offset`, Number.MAX_SAFE_INTEGER);
  return { name, ne, type: type as GgmlType, offset, numel, bytes: (numel / info.blockSize) * info.typeSize };
}

function alignmentOf(kv: Map<string, GgufKv>): number {
  const a = kv.get('general.alignment');
  if (!a) return GGUF_DEFAULT_ALIGNMENT;
  if (a.type !== GgufValueType.U32) throw bad(`general.alignment must be a u32, got value type ${a.type}`);
  const v = a.value as number;
  if (v < 1 || (v & (v - 1)) !== 0) throw bad(`general.alignment = ${v} is not a power of two`);
  return v;
}

/** Parses a GGUF file's structure; tensor data stays in `bytes` until a tensor is decoded. */
export function parseGguf(bytes: Uint8Array): GgufFile {
  return { ...parseStructure(new Cursor(bytes)), bytes };
}

/** A GGUF file's structure read by ranges: everything but the tensor data. */
export interface GgufHeader extends Omit<GgufFile, 'bytes'> {
  size: number; // bytes in the file
  headerBytes: number; // bytes read to parse it (a prefix of the file)
}

/** Largest header (metadata + tensor infos) readGgufHeader reads: a 256K-token vocabulary takes ~10 MB. */
export const MAX_GGUF_HEADER_BYTES = 64 << 20;

/**
 * The structure of the GGUF file behind `reader`, reading a prefix of `first` bytes and growing
 * it (×4, new bytes only) until the header parses or `max` is reached ('unsupported'). The
 * checks and errors are parseGguf's, against the file's size.
 */
export async function readGgufHeader(
  reader: RangeReader,
  opts: { first?: number; max?: number } = {},
): Promise<GgufHeader> {
  const size = reader.size;
  const max = Math.min(size, opts.max ?? MAX_GGUF_HEADER_BYTES);
  let prefix = await readExact(reader, 0, Math.min(max, opts.first ?? 64 << 10));
  for (;;) {
    try {
      return { ...parseStructure(new Cursor(prefix, size)), size, headerBytes: prefix.byteLength };
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
    }
    if (prefix.byteLength >= max) {
      throw new NibbleError(
        'unsupported',
        `GGUF: the header (metadata and tensor list) is larger than ${max} bytes, the most this reader reads`,
      );
    }
    const next = Math.min(max, Math.max(prefix.byteLength * 4, 64));
    const more = await readExact(reader, prefix.byteLength, next - prefix.byteLength);
    const grown = new Uint8Array(next);
    grown.set(prefix);
    grown.set(more, prefix.byteLength);
    prefix = grown;
  }
}

async function readExact(reader: RangeReader, offset: number, length: number): Promise<Uint8Array> {
  const b = await reader.read(offset, length);
  if (b.byteLength !== length)
    throw new NibbleError('truncated', `GGUF: read ${b.byteLength} bytes at offset ${offset}, expected ${length}`);
  return b;
}

function parseStructure(cur: Cursor): Omit<GgufFile, 'bytes'> {
  const size = cur.size;
  const { version, tensorCount, kvCount } = readHeader(cur);

  const kv = new Map<string, GgufKv>();
  for (let i = 0; i < kvCount; i++) {
    const key = cur.string(`metadata key ${i}`);
    const type = cur.u32(`metadata '${key}' type`) as GgufValueType;
    const value = readValue(cur, type, `metadata '${key}'`, 0);
    if (kv.has(key)) throw bad(`metadata key '${key}' appears twice`);
    kv.set(key, { type, value });
  }
  const alignment = alignmentOf(kv);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const t = readTensorInfo(cur, i);
    if (names.has(t.name)) throw bad(`tensor name '${t.name}' appears twice`);
    names.add(t.name);
    tensors.push(t);
  }

  const dataStart = Math.ceil(cur.pos / alignment) * alignment;
  if (tensors.length > 0 && dataStart > size) {
    throw new NibbleError(
      'truncated',
      `GGUF: the data section should start at ${dataStart}, the file has ${size} bytes`,
    );
  }
  const dataBytes = Math.max(0, size - dataStart);
  for (const t of tensors) {
    if (t.offset % alignment !== 0)
      throw bad(`tensor '${t.name}' offset ${t.offset} is not a multiple of the alignment ${alignment}`);
    if (t.offset + t.bytes > dataBytes) {
      throw new NibbleError(
        'truncated',
        `GGUF: tensor '${t.name}' (${ggmlTypeName(t.type)} [${t.ne}], ${t.bytes} bytes at data offset ${t.offset}) ends past the data section (${dataBytes} bytes)`,
      );
    }
  }
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const [a, b] = [byOffset[i - 1], byOffset[i]];
    if (b.offset < a.offset + a.bytes)
      throw bad(`tensors '${a.name}' [${a.offset}, ${a.offset + a.bytes}) and '${b.name}' (from ${b.offset}) overlap`);
  }
  return { version, kv, tensors, alignment, dataStart };
}

export const isGgufFile = (bytes: Uint8Array): boolean =>
  bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === GGUF_MAGIC;
