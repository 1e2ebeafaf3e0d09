// ONNX reader/rewriter: the shipped vit-mnist.onnx and hand-built models in every float encoding.
import { describe, expect, it } from 'vitest';
import { parseOnnx, type OnnxModelInfo } from '../../src/core/formats/onnx/model.ts';
import { mapFloatTensors, readFloatTensor } from '../../src/core/formats/onnx/weights.ts';
import { roundFraction, truncateFraction } from '../../src/core/quant/float-formats.ts';
import { readProjectFile } from './helpers.ts';
import { attrGraph, attrTensor, cat, fLen, fVarint, graph, model, node, tensor, valueInfo } from './onnx-build.ts';

const vit = (): Uint8Array => readProjectFile('public/models/vit-mnist.onnx');
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);

/** Marks every byte that belongs to some float payload. */
function payloadMask(info: OnnxModelInfo, size: number): Uint8Array {
  const mask = new Uint8Array(size);
  for (const t of info.floatTensors) for (const s of t.segments) mask.fill(1, s.offset, s.offset + 4 * s.count);
  return mask;
}

describe('vit-mnist.onnx structure', () => {
  const bytes = vit();
  const info = parseOnnx(bytes);

  it('lists the graph IO and the 56 float initializers (139,018 weights) plus 34 float Constant nodes', () => {
    expect(info.irVersion).toBe(7);
    expect(info.producer).toBe('pytorch');
    expect(info.opsets).toEqual([{ domain: '', version: 14 }]);
    expect(info.inputs).toEqual([{ name: 'image', elemType: 1, dims: ['batch', 1, 28, 28] }]);
    expect(info.outputs).toEqual([{ name: 'logits', elemType: 1, dims: ['batch', 10] }]);
    const inits = info.floatTensors.filter((t) => t.source === 'initializer');
    const consts = info.floatTensors.filter((t) => t.source === 'constant');
    expect(inits.length).toBe(56);
    expect(inits.reduce((s, t) => s + t.count, 0)).toBe(139018);
    expect(consts.length).toBe(34); // LayerNorm exponent 2 and eps, GELU √2, 1 and 0.5, attention 1
    expect(consts.every((t) => t.count === 1)).toBe(true);
    expect(info.otherTensors).toBe(244); // int64 shape constants
    const patch = inits.find((t) => t.name === 'onnx::MatMul_951')!;
    expect(patch.dims).toEqual([49, 64]); // 7×7 patch → dim 64
    expect(inits.find((t) => t.name === 'pos')!.dims).toEqual([1, 17, 64]);
    expect(info.floatTensors.map((t) => t.index)).toEqual(info.floatTensors.map((_, i) => i));
  });

  it('reads values that look like trained weights, and the constants exactly', () => {
    const eps = info.floatTensors.find((t) => t.name === '/enc/layers.0/norm1/Constant_1_output_0')!;
    expect(readFloatTensor(bytes, eps)[0]).toBe(Math.fround(1e-5));
    const w = readFloatTensor(
      bytes,
      info.floatTensors.find((t) => t.name === 'head.weight')!,
    );
    expect(w.length).toBe(640);
    expect(w.every((x) => Number.isFinite(x) && Math.abs(x) < 1)).toBe(true);
  });

  it('rewriting with the same values gives back the identical file', () => {
    expect(
      sameBytes(
        mapFloatTensors(bytes, info, (v) => v),
        bytes,
      ),
    ).toBe(true);
  });

  it.each([
    ['truncate', truncateFraction],
    ['rne', roundFraction],
  ] as const)('%s to 3 bits: initializers read back bit-exactly, every other byte identical', (_, cut) => {
    const out = mapFloatTensors(bytes, info, (v, t) => (t.source === 'initializer' ? cut(v, 3) : null));
    expect(out.length).toBe(bytes.length);
    const again = parseOnnx(out);
    expect(again.floatTensors.map(({ name, dims, segments }) => ({ name, dims, segments }))).toEqual(
      info.floatTensors.map(({ name, dims, segments }) => ({ name, dims, segments })),
    );
    let changed = 0;
    for (const t of info.floatTensors) {
      const orig = readFloatTensor(bytes, t);
      const want = t.source === 'initializer' ? cut(orig, 3) : orig;
      const got = readFloatTensor(out, again.floatTensors[t.index]);
      expect(Array.from(bitsOf(got))).toEqual(Array.from(bitsOf(want)));
      if (t.source === 'initializer') changed += orig.filter((x, i) => x !== got[i]).length;
    }
    expect(changed).toBeGreaterThan(100000); // the rewrite really changed the weights
    const mask = payloadMask(info, bytes.length);
    let diffOutside = 0;
    for (let i = 0; i < bytes.length; i++) if (!mask[i] && out[i] !== bytes[i]) diffOutside++;
    expect(diffOutside).toBe(0);
  });

  it('rejects new values of the wrong length', () => {
    expect(() => mapFloatTensors(bytes, info, (v) => v.subarray(1))).toThrow(
      expect.objectContaining({ code: 'bad-argument' }),
    );
  });
});

describe('hand-built models: every float encoding, Constant nodes, subgraphs, unknown fields', () => {
  const raw = tensor({ name: 'w_raw', dims: [2, 3], floats: [1.5, -2.25, 3.1, 0, -0, 7e-3] });
  const packed = tensor({ name: 'w_packed', dims: [4], floats: [0.1, 0.2, 0.3, 0.4], encoding: 'packed' });
  const unpacked = tensor({ name: 'w_unpacked', dims: [3], floats: [-1.1, 2.2, -3.3], encoding: 'unpacked' });
  const scalar = tensor({ name: '', dims: [], floats: [Math.SQRT2] });
  const shape = tensor({ name: 'shape', dims: [2], int64: [-1, 6] });
  const body = graph({
    nodes: [node('Identity', ['x'], ['y'])],
    initializers: [tensor({ name: 'inner', dims: [2], floats: [9.5, -9.5] })],
    inputs: [],
    outputs: [],
  });
  const unknownGraphField = fLen(99, [1, 2, 3]);
  const g = graph({
    nodes: [
      node('Constant', [], ['c0'], [attrTensor('value', scalar)]),
      node('If', ['cond'], ['o'], [attrGraph('then_branch', body)]),
    ],
    initializers: [raw, packed, unpacked, shape],
    inputs: [valueInfo('img', 1, ['n', 8, 8]), valueInfo('w_raw', 1, [2, 3])], // IR < 4 style: an initializer listed as input
    outputs: [valueInfo('out', 1, ['n', 3])],
    extra: unknownGraphField,
  });
  const bytes = model(g, cat(fVarint(1000, 42), fLen(1001, 'future field')));

  it('finds every float tensor with its encoding and skips the int64 one', () => {
    const info = parseOnnx(bytes);
    expect(info.floatTensors.map((t) => [t.name, t.source, t.graphDepth, t.dims, t.segments.length])).toEqual([
      ['c0', 'constant', 0, [], 1],
      ['inner', 'initializer', 1, [2], 1],
      ['w_raw', 'initializer', 0, [2, 3], 1],
      ['w_packed', 'initializer', 0, [4], 1],
      ['w_unpacked', 'initializer', 0, [3], 3], // one fixed32 field per element
    ]);
    expect(info.otherTensors).toBe(1);
    expect(info.inputs).toEqual([{ name: 'img', elemType: 1, dims: ['n', 8, 8] }]);
    expect(Array.from(readFloatTensor(bytes, info.floatTensors[4]))).toEqual([-1.1, 2.2, -3.3].map(Math.fround));
    expect(Array.from(readFloatTensor(bytes, info.floatTensors[3]))).toEqual([0.1, 0.2, 0.3, 0.4].map(Math.fround));
  });

  it('rewrites each encoding in place and keeps unknown fields byte-for-byte', () => {
    const info = parseOnnx(bytes);
    const out = mapFloatTensors(bytes, info, (v) => v.map((x) => -x));
    const info2 = parseOnnx(out);
    for (const t of info.floatTensors) {
      expect(Array.from(readFloatTensor(out, info2.floatTensors[t.index]))).toEqual(
        Array.from(readFloatTensor(bytes, t)).map((x) => -x),
      );
    }
    const mask = payloadMask(info, bytes.length);
    for (let i = 0; i < bytes.length; i++) if (!mask[i]) expect(out[i]).toBe(bytes[i]);
    // the unknown fields are still there, at the same place
    expect(out.subarray(out.length - 15)).toEqual(bytes.subarray(bytes.length - 15));
  });

  it('keeps NaN payloads and infinities bit for bit', () => {
    const nanBits = new Uint32Array([0x7fa00001, 0xff800000, 0x7f800000, 0x80000001]);
    const t = cat(fLen(1, [4]), fVarint(2, 1), fLen(8, 'odd'), fLen(9, new Uint8Array(nanBits.buffer)));
    const m = model(graph({ nodes: [], initializers: [t], inputs: [], outputs: [] }));
    const info = parseOnnx(m);
    expect(Array.from(bitsOf(readFloatTensor(m, info.floatTensors[0])))).toEqual(Array.from(nanBits));
    expect(mapFloatTensors(m, info, (v) => v)).toEqual(m);
  });

  it('rejects payloads that disagree with dims, and external data', () => {
    const bad = (t: Uint8Array): Uint8Array => model(graph({ nodes: [], initializers: [t], inputs: [], outputs: [] }));
    expect(() => parseOnnx(bad(tensor({ name: 'short', dims: [5], floats: [1, 2, 3] })))).toThrow(
      expect.objectContaining({ code: 'bad-format' }),
    );
    expect(() => parseOnnx(bad(tensor({ name: 'p', dims: [5], floats: [1, 2], encoding: 'packed' })))).toThrow(
      expect.objectContaining({ code: 'bad-format' }),
    );
    const negDim = cat(
      fLen(1, [...[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]]),
      fVarint(2, 1),
      fLen(8, 'neg'),
    );
    expect(() => parseOnnx(bad(negDim))).toThrow(expect.objectContaining({ code: 'bad-dims' }));
    const ext = cat(fLen(1, [2]), fVarint(2, 1), fLen(8, 'ext'), fVarint(14, 1));
    expect(() => parseOnnx(bad(ext))).toThrow(expect.objectContaining({ code: 'unsupported' }));
    const both = cat(tensor({ name: 'both', dims: [1], floats: [1] }), fLen(4, new Uint8Array(4)));
    expect(() => parseOnnx(bad(both))).toThrow(expect.objectContaining({ code: 'bad-format' }));
  });

  it('rejects a protobuf that is not a model', () => {
    expect(() => parseOnnx(new Uint8Array(0))).toThrow(expect.objectContaining({ code: 'bad-format' }));
    expect(() => parseOnnx(fVarint(1, 7))).toThrow(/no graph/);
    expect(() => parseOnnx(fLen(7, graph({ nodes: [], inputs: [], outputs: [] })))).toThrow(/no ir_version/);
  });
});
