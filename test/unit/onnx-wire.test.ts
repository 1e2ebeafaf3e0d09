// Corrupt and truncated protobuf: every failure is a NibbleError (truncated / bad-format /
// bad-dims), never another exception, a hang or a huge allocation.
import { describe, expect, it } from 'vitest';

import { parseOnnx } from '../../src/core/formats/onnx/model.ts';
import { fields, readVarint } from '../../src/core/formats/onnx/wire.ts';
import { readProjectFile, seededRandom, codeOf } from './helpers.ts';
import { cat, fLen, fVarint, graph, model, tensor, varint } from './onnx-build.ts';

const vit = readProjectFile('public/models/vit-mnist.onnx');

describe('wire format', () => {
  it('reads varints up to 10 bytes and rejects longer ones', () => {
    expect(readVarint(new Uint8Array([0x96, 0x01]), 0, 2, 't')).toEqual([150, 2]);
    expect(readVarint(new Uint8Array(varint(2 ** 40 + 5)), 0, 6, 't')[0]).toBe(2 ** 40 + 5);
    const eleven = new Uint8Array([...Array(10).fill(0x80), 0x01]);
    expect(codeOf(() => readVarint(eleven, 0, 11, 't'))).toBe('bad-format');
    expect(codeOf(() => readVarint(new Uint8Array([0x80, 0x80]), 0, 2, 't'))).toBe('truncated');
  });

  it('walks fields of every wire type and rejects groups and wire types 6/7', () => {
    const msg = cat(fVarint(1, 300), [0x11, 1, 2, 3, 4, 5, 6, 7, 8], fLen(3, 'abc'), [0x25, 0, 0, 0x80, 0x3f]);
    expect([...fields(msg, 0, msg.length, 't')].map((f) => [f.field, f.wire, f.end - f.start])).toEqual([
      [1, 0, 2],
      [2, 1, 8],
      [3, 2, 3],
      [4, 5, 4],
    ]);
    for (const tag of [0x0b /* field 1 start group */, 0x0c, 0x0e, 0x0f, 0x00 /* field 0 */]) {
      expect(codeOf(() => [...fields(new Uint8Array([tag, 0]), 0, 2, 't')])).toBe('bad-format');
    }
  });

  it('checks lengths against the bytes left in the enclosing message, not the file', () => {
    const inner = fLen(5, new Uint8Array(10));
    const lying = cat([0x3a, 4], inner.subarray(0, 4)); // graph of 4 bytes holding a 12-byte field
    expect(codeOf(() => parseOnnx(cat(fVarint(1, 7), lying)))).toBe('truncated');
    const huge = cat(fVarint(1, 7), [0x3a], varint(2 ** 50), [0]); // graph claims 2^50 bytes
    expect(codeOf(() => parseOnnx(huge))).toBe('truncated');
  });
});

describe('damaged files', () => {
  it('vit-mnist.onnx cut anywhere inside a field → truncated', () => {
    // (a cut exactly between top-level fields leaves a shorter valid message: after byte 2 it has
    // no graph (bad-format); 4 bytes before the end only the opset list is gone)
    const rnd = seededRandom(7);
    const cuts = [
      1,
      3,
      10,
      100,
      vit.length - 1,
      vit.length - 2,
      vit.length - 5,
      ...Array.from({ length: 40 }, () => 1 + Math.floor(rnd() * (vit.length - 2))),
    ];
    for (const n of cuts) expect([n, codeOf(() => parseOnnx(vit.subarray(0, n)))]).toEqual([n, 'truncated']);
  });

  it('random byte damage → parses or a NibbleError, never a crash', () => {
    const rnd = seededRandom(11);
    const codes = new Map<string, number>();
    for (let trial = 0; trial < 150; trial++) {
      const b = vit.slice();
      const hits = 1 + Math.floor(rnd() * 4);
      // bias toward the structure (first 64 KiB holds the nodes); weights are just numbers
      for (let h = 0; h < hits; h++) b[Math.floor(rnd() * (rnd() < 0.7 ? 65536 : b.length))] = Math.floor(rnd() * 256);
      const c = codeOf(() => parseOnnx(b));
      codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    for (const c of codes.keys()) expect(['ok', 'truncated', 'bad-format', 'bad-dims']).toContain(c);
    expect(codes.get('ok') ?? 0).toBeLessThan(150); // the damage was noticed at least sometimes
  });

  it('random small protobufs around a valid model → NibbleError or ok', () => {
    const rnd = seededRandom(3);
    const base = model(
      graph({
        nodes: [],
        initializers: [tensor({ name: 'w', dims: [3], floats: [1, 2, 3] })],
        inputs: [],
        outputs: [],
      }),
    );
    for (let trial = 0; trial < 500; trial++) {
      const b = base.slice();
      b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      expect(['ok', 'truncated', 'bad-format', 'bad-dims', 'unsupported']).toContain(codeOf(() => parseOnnx(b)));
    }
  });

  it('other files are not ONNX', () => {
    expect(codeOf(() => parseOnnx(readProjectFile('public/data/mnist-heldout-labels.idx1')))).not.toBe('ok');
    expect(codeOf(() => parseOnnx(readProjectFile('public/models/tok512.bin')))).not.toBe('ok');
    expect(codeOf(() => parseOnnx(new TextEncoder().encode('<html>not a model</html>')))).not.toBe('ok');
  });
});
