// Test-only protobuf encoder for small ONNX models (field numbers as in src/core/formats/onnx/model.ts),
// independent of the reader under test.

type Bytes = Uint8Array | number[];

export function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

export function cat(...parts: Bytes[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const fVarint = (field: number, v: number): Uint8Array => cat(varint(field * 8), varint(v));
export const fLen = (field: number, payload: Bytes | string): Uint8Array => {
  const b = typeof payload === 'string' ? utf8(payload) : payload;
  return cat(varint(field * 8 + 2), varint(b.length), b);
};
export const fFixed32 = (field: number, x: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return cat(varint(field * 8 + 5), b);
};
const floatBytes = (xs: readonly number[]): Uint8Array => new Uint8Array(new Float32Array(xs).buffer);

export interface TensorSpec {
  name: string;
  dims: number[];
  floats?: number[];
  encoding?: 'raw' | 'packed' | 'unpacked';
  int64?: number[]; // an INT64 tensor instead (data_type 7, raw little-endian)
}

/** TensorProto: dims (packed), data_type, name, then the payload in the chosen encoding. */
export function tensor(t: TensorSpec): Uint8Array {
  const dims = t.dims.length ? fLen(1, t.dims.flatMap(varint)) : new Uint8Array(0);
  if (t.int64) {
    const raw = new Uint8Array(8 * t.int64.length);
    t.int64.forEach((v, i) => new DataView(raw.buffer).setBigInt64(8 * i, BigInt(v), true));
    return cat(dims, fVarint(2, 7), fLen(8, t.name), fLen(9, raw));
  }
  const xs = t.floats ?? [];
  const enc = t.encoding ?? 'raw';
  const payload =
    enc === 'raw'
      ? fLen(9, floatBytes(xs))
      : enc === 'packed'
        ? fLen(4, floatBytes(xs))
        : cat(...xs.map((x) => fFixed32(4, x)));
  return cat(dims, fVarint(2, 1), fLen(8, t.name), payload);
}

/** ValueInfoProto with a tensor type; a string dim is symbolic (dim_param). */
export function valueInfo(name: string, elemType: number, dims: Array<number | string>): Uint8Array {
  const shape = cat(...dims.map((d) => fLen(1, typeof d === 'number' ? fVarint(1, d) : fLen(2, d))));
  return cat(fLen(1, name), fLen(2, fLen(1, cat(fVarint(1, elemType), fLen(2, shape)))));
}

export const attrTensor = (name: string, t: Uint8Array): Uint8Array => cat(fLen(1, name), fLen(5, t), fVarint(20, 4));
export const attrGraph = (name: string, g: Uint8Array): Uint8Array => cat(fLen(1, name), fLen(6, g), fVarint(20, 5));

export function node(op: string, inputs: string[], outputs: string[], attrs: Uint8Array[] = []): Uint8Array {
  return cat(
    ...inputs.map((s) => fLen(1, s)),
    ...outputs.map((s) => fLen(2, s)),
    fLen(4, op),
    ...attrs.map((a) => fLen(5, a)),
  );
}

export interface GraphSpec {
  nodes: Uint8Array[];
  initializers?: Uint8Array[];
  inputs: Uint8Array[];
  outputs: Uint8Array[];
  extra?: Uint8Array; // unknown fields to carry along
}

export function graph(g: GraphSpec): Uint8Array {
  return cat(
    ...g.nodes.map((n) => fLen(1, n)),
    fLen(2, 'g'),
    ...(g.initializers ?? []).map((t) => fLen(5, t)),
    ...g.inputs.map((v) => fLen(11, v)),
    ...g.outputs.map((v) => fLen(12, v)),
    g.extra ?? [],
  );
}

/** ModelProto: ir_version 7, producer, graph, opset 13, then any extra (unknown) fields. */
export function model(graphBytes: Uint8Array, extra: Uint8Array = new Uint8Array(0)): Uint8Array {
  return cat(
    fVarint(1, 7),
    fLen(2, 'nibble-test'),
    fLen(7, graphBytes),
    fLen(8, cat(fLen(1, ''), fVarint(2, 13))),
    extra,
  );
}
