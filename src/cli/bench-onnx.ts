// A one-node ONNX model, written in code, for the bench's onnxruntime-web reference: Y = A · Bᵀ
// with com.microsoft MatMulNBits (4-bit, blocks of 32 along K). A tiny protobuf encoder (the
// repo's src/core/formats/onnx/ only reads); field numbers from onnx/onnx.proto:
//   ModelProto      1 ir_version, 7 graph, 8 opset_import {1 domain, 2 version}
//   GraphProto      1 node, 2 name, 5 initializer, 11 input, 12 output
//   NodeProto       1 input, 2 output, 3 name, 4 op_type, 5 attribute, 7 domain
//   AttributeProto  1 name, 3 i, 20 type (INT = 2)
//   TensorProto     1 dims, 2 data_type (FLOAT 1, UINT8 2), 8 name, 9 raw_data
//   ValueInfoProto  1 name, 2 type → TypeProto 1 tensor_type → {1 elem_type, 2 shape → 1 dim → 1 dim_value}
// MatMulNBits (onnxruntime docs/ContribOperators.md): A (M, K) f32; B uint8 (N, K/32, 16), two
// 4-bit codes per byte, LOW nibble first; scales f32 (N · K/32); no zero points → zero 8. That
// is byte for byte nibble's q4 symmetric group-32 layout (8 codes per little-endian u32, value j
// at bits 4·(j & 7); scales (N, K/32) row-major), so both engines read the same weight bytes.

type Field = Uint8Array;

function varint(v: number): number[] {
  const out: number[] = [];
  let x = BigInt(v);
  if (x < 0n) x += 1n << 64n; // int64 two's complement: 10 bytes
  do {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x ? b | 0x80 : b);
  } while (x);
  return out;
}

const cat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};

const tag = (field: number, wire: number): number[] => varint((field << 3) | wire);
const int = (field: number, v: number): Field => Uint8Array.from([...tag(field, 0), ...varint(v)]);
const bytes = (field: number, payload: Uint8Array): Field =>
  cat([Uint8Array.from([...tag(field, 2), ...varint(payload.length)]), payload]);
const str = (field: number, s: string): Field => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, ...fields: Field[]): Field => bytes(field, cat(fields));

const ONNX_FLOAT = 1;
const ONNX_UINT8 = 2;
const ATTR_INT = 2;

const intAttr = (name: string, v: number): Field => msg(5, str(1, name), int(3, v), int(20, ATTR_INT));

function tensor(name: string, dims: readonly number[], type: number, raw: Uint8Array): Field {
  return msg(5, ...dims.map((d) => int(1, d)), int(2, type), str(8, name), bytes(9, raw));
}

function valueInfo(field: number, name: string, dims: readonly number[]): Field {
  const shape = msg(2, ...dims.map((d) => msg(1, int(1, d))));
  return msg(field, str(1, name), msg(2, msg(1, int(1, ONNX_FLOAT), shape)));
}

export interface MatMulNBitsModel {
  M: number;
  N: number;
  K: number; // a multiple of 32
  codes: Uint32Array; // (N, K/8) words: nibble's q4 packed rows
  scales: Float32Array; // (N, K/32)
}

/** The serialized ModelProto: graph input A (M, K), initializers B and scales, output Y (M, N). */
export function matMulNBitsModel(m: MatMulNBitsModel): Uint8Array {
  const blocks = m.K / 32;
  if (!Number.isInteger(blocks) || m.codes.length !== (m.N * m.K) / 8 || m.scales.length !== m.N * blocks) {
    throw new Error(
      `MatMulNBits model: K ${m.K} must be a multiple of 32 with ${(m.N * m.K) / 8} code words and ${m.N * blocks} scales`,
    );
  }
  const node = msg(
    1,
    str(1, 'A'),
    str(1, 'B'),
    str(1, 'scales'),
    str(2, 'Y'),
    str(3, 'matmul'),
    str(4, 'MatMulNBits'),
    intAttr('K', m.K),
    intAttr('N', m.N),
    intAttr('bits', 4),
    intAttr('block_size', 32),
    str(7, 'com.microsoft'),
  );
  const b = new Uint8Array(m.codes.buffer, m.codes.byteOffset, m.codes.byteLength);
  const s = new Uint8Array(m.scales.buffer, m.scales.byteOffset, m.scales.byteLength);
  const graph = msg(
    7,
    node,
    str(2, 'matmulnbits'),
    tensor('B', [m.N, blocks, 16], ONNX_UINT8, b),
    tensor('scales', [m.N * blocks], ONNX_FLOAT, s),
    valueInfo(11, 'A', [m.M, m.K]),
    valueInfo(12, 'Y', [m.M, m.N]),
  );
  return cat([int(1, 8), graph, msg(8, str(1, ''), int(2, 17)), msg(8, str(1, 'com.microsoft'), int(2, 1))]);
}
