// ONNX ModelProto, read side: where every float32 weight lives in the file, and the graph's
// inputs/outputs. Only the fields below are interpreted; everything else is skipped untouched.
// Field numbers from onnx/onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto):
//   ModelProto      1 ir_version, 2 producer_name, 7 graph, 8 opset_import{1 domain, 2 version}
//   GraphProto      1 node, 5 initializer, 11 input, 12 output
//   NodeProto       2 output, 4 op_type, 5 attribute
//   AttributeProto  1 name, 5 t (TensorProto), 6 g (GraphProto), 11 graphs (subgraphs of If/Loop/Scan)
//   TensorProto     1 dims (int64), 2 data_type (FLOAT = 1), 4 float_data, 8 name, 9 raw_data,
//                   14 data_location (EXTERNAL = 1)
//   ValueInfoProto  1 name, 2 type → TypeProto 1 tensor_type → {1 elem_type, 2 shape → 1 dim →
//                   {1 dim_value, 2 dim_param}}
// Float payloads are little-endian float32 in both encodings (raw_data bytes; float_data packed
// or one fixed32 per element), so a tensor's values are a list of byte segments of the file.

import { NibbleError } from '../../errors.ts';
import { WIRE_I32, WIRE_LEN, expectWire, fieldString, fields, readRepeatedVarint, type WireField } from './wire.ts';

export const ONNX_FLOAT = 1; // TensorProto.DataType.FLOAT
const MAX_GRAPH_DEPTH = 16; // nested If/Loop/Scan bodies; deeper is treated as corrupt

/** A run of `count` little-endian float32 values at byte `offset` of the model file. */
export interface FloatSegment {
  offset: number;
  count: number;
}

/** A float32 tensor stored in the file: a graph initializer or the `value` of a Constant node. */
export interface OnnxFloatTensor {
  index: number; // position in file order (unique, stable for the same bytes)
  name: string; // initializer name, or the Constant node's output name
  source: 'initializer' | 'constant';
  graphDepth: number; // 0 = main graph, 1+ = inside an If/Loop/Scan body
  dims: number[]; // [] = scalar
  count: number; // product of dims
  segments: FloatSegment[]; // where its values lie, in element order
}

/** One graph input or output. `dims` null: no shape recorded; an entry null: unknown size. */
export interface OnnxValueInfo {
  name: string;
  elemType: number | null; // TensorProto.DataType (1 = float32); null: not a tensor type
  dims: Array<number | string | null> | null; // number = fixed size, string = symbolic (dim_param)
}

export interface OnnxModelInfo {
  irVersion: number;
  producer: string;
  opsets: Array<{ domain: string; version: number }>;
  inputs: OnnxValueInfo[]; // main-graph inputs that are not initializers (what a session feeds)
  outputs: OnnxValueInfo[];
  floatTensors: OnnxFloatTensor[];
  otherTensors: number; // initializers / constants of other data types (left as they are)
}

/** Parses an ONNX model's structure. Throws NibbleError bad-format / truncated / unsupported. */
export function parseOnnx(bytes: Uint8Array): OnnxModelInfo {
  const info: OnnxModelInfo = {
    irVersion: 0,
    producer: '',
    opsets: [],
    inputs: [],
    outputs: [],
    floatTensors: [],
    otherTensors: 0,
  };
  let graph: WireField | null = null;
  let sawIr = false;
  for (const f of fields(bytes, 0, bytes.length, 'ONNX ModelProto')) {
    if (f.field === 1 && f.wire === 0) {
      info.irVersion = f.varint;
      sawIr = true;
    } else if (f.field === 2 && f.wire === WIRE_LEN) info.producer = fieldString(bytes, f);
    else if (f.field === 7) {
      expectWire(f, WIRE_LEN, 'ModelProto.graph');
      graph = f;
    } else if (f.field === 8 && f.wire === WIRE_LEN) info.opsets.push(parseOpset(bytes, f));
  }
  if (!sawIr || graph === null) {
    throw new NibbleError(
      'bad-format',
      `not an ONNX model: ${sawIr ? 'no graph' : 'no ir_version'} in the ${bytes.length}-byte file`,
    );
  }
  const initializerNames = new Set<string>();
  const allInputs: OnnxValueInfo[] = [];
  walkGraph(bytes, graph, 0, info, initializerNames, allInputs);
  // IR < 4 lists initializers among the inputs too; only the rest are fed at run time.
  info.inputs = allInputs.filter((v) => !initializerNames.has(v.name));
  return info;
}

function parseOpset(bytes: Uint8Array, f: WireField): { domain: string; version: number } {
  const o = { domain: '', version: 0 };
  for (const g of fields(bytes, f.start, f.end, 'OperatorSetIdProto')) {
    if (g.field === 1 && g.wire === WIRE_LEN) o.domain = fieldString(bytes, g);
    else if (g.field === 2 && g.wire === 0) o.version = g.varint;
  }
  return o;
}

function walkGraph(
  bytes: Uint8Array,
  graph: WireField,
  depth: number,
  info: OnnxModelInfo,
  initNames: Set<string>,
  inputs: OnnxValueInfo[],
): void {
  if (depth > MAX_GRAPH_DEPTH)
    throw new NibbleError('bad-format', `ONNX graphs nested deeper than ${MAX_GRAPH_DEPTH} levels`);
  for (const f of fields(bytes, graph.start, graph.end, 'GraphProto')) {
    if (f.field === 1) {
      expectWire(f, WIRE_LEN, 'GraphProto.node');
      walkNode(bytes, f, depth, info, initNames, inputs);
    } else if (f.field === 5) {
      expectWire(f, WIRE_LEN, 'GraphProto.initializer');
      const t = parseTensor(bytes, f, 'initializer', depth, info.floatTensors.length);
      if (depth === 0) initNames.add(t.name);
      addTensor(info, t.float);
    } else if (depth === 0 && f.field === 11) {
      expectWire(f, WIRE_LEN, 'GraphProto.input');
      inputs.push(parseValueInfo(bytes, f));
    } else if (depth === 0 && f.field === 12) {
      expectWire(f, WIRE_LEN, 'GraphProto.output');
      info.outputs.push(parseValueInfo(bytes, f));
    }
  }
}

function walkNode(
  bytes: Uint8Array,
  node: WireField,
  depth: number,
  info: OnnxModelInfo,
  initNames: Set<string>,
  inputs: OnnxValueInfo[],
): void {
  let opType = '';
  let output = '';
  const attrs: WireField[] = [];
  for (const f of fields(bytes, node.start, node.end, 'NodeProto')) {
    if (f.field === 4 && f.wire === WIRE_LEN) opType = fieldString(bytes, f);
    else if (f.field === 2 && f.wire === WIRE_LEN && output === '') output = fieldString(bytes, f);
    else if (f.field === 5) {
      expectWire(f, WIRE_LEN, 'NodeProto.attribute');
      attrs.push(f);
    }
  }
  for (const a of attrs) {
    let name = '';
    const tensors: WireField[] = [];
    for (const f of fields(bytes, a.start, a.end, 'AttributeProto')) {
      if (f.field === 1 && f.wire === WIRE_LEN) name = fieldString(bytes, f);
      else if (f.field === 5 && f.wire === WIRE_LEN) tensors.push(f);
      else if ((f.field === 6 || f.field === 11) && f.wire === WIRE_LEN)
        walkGraph(bytes, f, depth + 1, info, initNames, inputs);
    }
    // A Constant node's `value` tensor is a weight stored in the node (exporters fold some there).
    if (opType === 'Constant' && name === 'value') {
      for (const t of tensors)
        addTensor(info, parseTensor(bytes, t, 'constant', depth, info.floatTensors.length, output).float);
    }
  }
}

function addTensor(info: OnnxModelInfo, t: OnnxFloatTensor | null): void {
  if (t) info.floatTensors.push(t);
  else info.otherTensors++;
}

/** A TensorProto's name, and where its values lie if it is float32 (payload size checked against dims). */
function parseTensor(
  bytes: Uint8Array,
  f: WireField,
  source: OnnxFloatTensor['source'],
  depth: number,
  index: number,
  fallbackName = '',
): { name: string; float: OnnxFloatTensor | null } {
  const dims: number[] = [];
  let dataType = 0;
  let name = '';
  let external = false;
  let raw: WireField | null = null;
  const floatData: WireField[] = [];
  const what = 'TensorProto';
  for (const g of fields(bytes, f.start, f.end, what)) {
    if (g.field === 1) readRepeatedVarint(bytes, g, dims, `${what}.dims`);
    else if (g.field === 2 && g.wire === 0) dataType = g.varint;
    else if (g.field === 8 && g.wire === WIRE_LEN) name = fieldString(bytes, g);
    else if (g.field === 9) {
      expectWire(g, WIRE_LEN, `${what}.raw_data`);
      raw = g;
    } else if (g.field === 4) floatData.push(g);
    else if (g.field === 14 && g.wire === 0) external = g.varint === 1;
  }
  if (dataType !== ONNX_FLOAT) return { name, float: null };
  const label = `float tensor '${name || fallbackName}'`;
  if (external)
    throw new NibbleError(
      'unsupported',
      `${label} keeps its data in an external file; save the model with the weights inside the .onnx`,
    );
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new NibbleError('bad-dims', `${label}: dimension ${d} is not a valid size`);
    count *= d;
  }
  const segments: FloatSegment[] = [];
  if (raw) {
    if (floatData.length) throw new NibbleError('bad-format', `${label} has both raw_data and float_data`);
    if (raw.end - raw.start !== count * 4) {
      throw new NibbleError(
        'bad-format',
        `${label}: dims [${dims.join(', ')}] need ${count * 4} bytes of raw_data, found ${raw.end - raw.start}`,
      );
    }
    if (count > 0) segments.push({ offset: raw.start, count });
  } else {
    for (const g of floatData) {
      if (g.wire === WIRE_I32)
        segments.push({ offset: g.start, count: 1 }); // unpacked element
      else {
        expectWire(g, WIRE_LEN, `${label}.float_data`);
        if ((g.end - g.start) % 4 !== 0)
          throw new NibbleError(
            'bad-format',
            `${label}: packed float_data of ${g.end - g.start} bytes is not a multiple of 4`,
          );
        if (g.end > g.start) segments.push({ offset: g.start, count: (g.end - g.start) / 4 });
      }
    }
    const found = segments.reduce((s, x) => s + x.count, 0);
    if (found !== count)
      throw new NibbleError(
        'bad-format',
        `${label}: dims [${dims.join(', ')}] need ${count} values, float_data has ${found}`,
      );
  }
  return { name, float: { index, name: name || fallbackName, source, graphDepth: depth, dims, count, segments } };
}

function parseValueInfo(bytes: Uint8Array, f: WireField): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: null, dims: null };
  for (const g of fields(bytes, f.start, f.end, 'ValueInfoProto')) {
    if (g.field === 1 && g.wire === WIRE_LEN) v.name = fieldString(bytes, g);
    else if (g.field === 2 && g.wire === WIRE_LEN) {
      for (const t of fields(bytes, g.start, g.end, 'TypeProto')) {
        if (t.field !== 1 || t.wire !== WIRE_LEN) continue; // only tensor_type
        v.elemType = 0;
        for (const tt of fields(bytes, t.start, t.end, 'TypeProto.Tensor')) {
          if (tt.field === 1 && tt.wire === 0) v.elemType = tt.varint;
          else if (tt.field === 2 && tt.wire === WIRE_LEN) v.dims = parseShape(bytes, tt);
        }
      }
    }
  }
  return v;
}

function parseShape(bytes: Uint8Array, f: WireField): Array<number | string | null> {
  const dims: Array<number | string | null> = [];
  for (const d of fields(bytes, f.start, f.end, 'TensorShapeProto')) {
    if (d.field !== 1 || d.wire !== WIRE_LEN) continue;
    let dim: number | string | null = null;
    for (const x of fields(bytes, d.start, d.end, 'TensorShapeProto.Dimension')) {
      if (x.field === 1 && x.wire === 0) dim = x.varint;
      else if (x.field === 2 && x.wire === WIRE_LEN) dim = fieldString(bytes, x);
    }
    dims.push(dim);
  }
  return dims;
}
