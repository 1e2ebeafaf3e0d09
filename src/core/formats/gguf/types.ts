// GGUF (llama.cpp) vocabulary shared by the reader and the writer: metadata value types, ggml
// tensor types with their block geometry, and the parsed-file shape. Facts: docs formats.md.
//
// File layout (little-endian, versions 2 and 3):
//   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count × { string key, u32 value_type, value }         string = u64 length + UTF-8 bytes
//   tensor_count × { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   zero padding to a multiple of general.alignment (default 32) — the data section starts here
//   tensor data at data_start + offset (offset a multiple of the alignment)
// ne[0] is the fastest-moving dimension (numpy shape reversed): a linear [out, in] has ne = [in, out].

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value type ids. */
export const GgufValueType = {
  U8: 0,
  I8: 1,
  U16: 2,
  I16: 3,
  U32: 4,
  I32: 5,
  F32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  U64: 10,
  I64: 11,
  F64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Bytes of one fixed-size scalar of each numeric/bool type (strings and arrays are variable). */
export const SCALAR_BYTES: Readonly<Partial<Record<GgufValueType, number>>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};

export type GgufNumberArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** An array value: `values` is a typed array for numeric elements, else a plain array. */
export interface GgufArray {
  elemType: GgufValueType;
  values: GgufNumberArray | boolean[] | string[] | GgufArray[];
}

/** A scalar as read: u64/i64 are bigint, other numbers are number. */
export type GgufValue = number | bigint | boolean | string | GgufArray;

export interface GgufKv {
  type: GgufValueType;
  value: GgufValue;
}

/** ggml tensor type ids this project reads (and, for F32/Q8_0/Q4_0, writes). */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 8, Q4_K: 12, Q6_K: 14, BF16: 30 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

export interface GgmlTypeInfo {
  name: string;
  blockSize: number; // values per block (1 for plain floats)
  typeSize: number; // bytes per block
}

export const GGML_TYPES: Readonly<Record<number, GgmlTypeInfo>> = {
  0: { name: 'F32', blockSize: 1, typeSize: 4 },
  1: { name: 'F16', blockSize: 1, typeSize: 2 },
  2: { name: 'Q4_0', blockSize: 32, typeSize: 18 }, // f16 d; u8 qs[16]
  3: { name: 'Q4_1', blockSize: 32, typeSize: 20 }, // f16 d, m; u8 qs[16]
  8: { name: 'Q8_0', blockSize: 32, typeSize: 34 }, // f16 d; i8 qs[32]
  12: { name: 'Q4_K', blockSize: 256, typeSize: 144 }, // f16 d, dmin; u8 scales[12]; u8 qs[128]
  14: { name: 'Q6_K', blockSize: 256, typeSize: 210 }, // u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
  30: { name: 'BF16', blockSize: 1, typeSize: 2 },
};

/** Names of ggml types we know of but do not read, for clearer 'unsupported' messages. */
export const OTHER_GGML_TYPES: Readonly<Record<number, string>> = {
  6: 'Q5_0',
  7: 'Q5_1',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  13: 'Q5_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  34: 'TQ1_0',
  35: 'TQ2_0',
};

export interface GgufTensorInfo {
  name: string;
  ne: number[]; // ggml dims, ne[0] fastest (1..4 of them, each ≥ 1)
  type: GgmlType;
  offset: number; // bytes from the start of the data section
  numel: number;
  bytes: number; // exact size implied by ne and type
}

export interface GgufFile {
  version: 2 | 3;
  kv: Map<string, GgufKv>; // in file order
  tensors: GgufTensorInfo[]; // in file order
  alignment: number;
  dataStart: number; // absolute file offset of the data section
  bytes: Uint8Array; // the whole file (tensor data is read from here on demand)
}

/** Bytes a tensor of `numel` values takes in ggml type `type` (numel a multiple of the block size). */
export const ggmlBytes = (type: GgmlType, numel: number): number =>
  (numel / GGML_TYPES[type].blockSize) * GGML_TYPES[type].typeSize;

export const ggmlTypeName = (type: number): string =>
  GGML_TYPES[type]?.name ?? OTHER_GGML_TYPES[type] ?? `type ${type}`;
