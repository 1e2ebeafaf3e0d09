// safetensors: the header is validated completely before any tensor is allocated, and every
// corruption ends in a typed NibbleError naming expected vs actual; f16 / bf16 decode exactly.
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16Bits } from '../../src/core/formats/hf/half.ts';
import { FLOAT_SPECS, decodeFloat } from '../../src/core/quant/float-formats.ts';
import {
  encodeSafetensors,
  MAX_HEADER_BYTES,
  parseSafetensors,
  parseSafetensorsHeader,
  parseSafetensorsIndex,
  readTensorF32,
  readTensorF32Ranged,
} from '../../src/core/formats/safetensors.ts';
import { hfFixtureFiles } from './hf-fixture.ts';

const real = hfFixtureFiles()['model.safetensors'];
const utf8 = (s: string) => new TextEncoder().encode(s);

/** A file with this exact header JSON and `dataBytes` zero bytes of data. */
function fileWith(header: unknown, dataBytes: number): Uint8Array {
  const json = utf8(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  return out;
}
const expectError = (bytes: Uint8Array, code: string, msg: RegExp) =>
  expect(() => parseSafetensors(bytes, 't.safetensors')).toThrow(
    expect.objectContaining({ name: 'NibbleError', code, message: expect.stringMatching(msg) }),
  );
const t = (dtype: unknown, shape: unknown, offs: unknown) => ({ dtype, shape, data_offsets: offs });

describe('safetensors header', () => {
  it('parses the transformers-written fixture', () => {
    const f = parseSafetensors(real);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.size).toBe(47);
    const q = f.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
    expect([q.dtype, q.shape, q.numel, q.end - q.begin]).toEqual(['F32', [64, 64], 4096, 16384]);
    const w = readTensorF32(f, 'model.norm.weight');
    expect(w.shape).toEqual([64]);
    expect(w.data[0]).toBe(new DataView(real.buffer).getFloat32(8 + 4856 + 1039872, true));
  });

  it('rejects truncation and impossible header lengths', () => {
    expectError(real.subarray(0, 5), 'truncated', /expected at least 8 bytes .* file has 5/);
    expectError(real.subarray(0, 4000), 'truncated', /header length 4856 needs 4864 bytes, file has 4000/);
    expectError(
      real.subarray(0, real.length - 1),
      'truncated',
      /"model.norm.weight" ends at byte 1044992, file has 1044991/,
    );
    const huge = real.slice();
    new DataView(huge.buffer).setUint32(4, 0xffffffff, true); // N ≈ 1.8e19
    expectError(
      huge,
      'truncated',
      /header length 18446744069414589176 needs 18446744069414589184 bytes, file has 1044992/,
    );
    const big = new Uint8Array(MAX_HEADER_BYTES + 16);
    new DataView(big.buffer).setUint32(0, MAX_HEADER_BYTES + 1, true);
    expectError(big, 'bad-format', /exceeds the 100000000-byte limit/);
    expectError(fileWith('', 0), 'bad-format', /too small/);
  });

  it('rejects headers that are not a JSON object of tensor entries', () => {
    expectError(fileWith('{"a": ', 0), 'bad-format', /header is not valid JSON/);
    expectError(fileWith('[1, 2]', 0), 'bad-format', /must hold a JSON object, found an array/);
    expectError(
      fileWith(
        new Uint8Array([0x7b, 0xff, 0x7d]).reduce((s, b) => s + String.fromCharCode(b), ''),
        0,
      ),
      'bad-format',
      /./,
    );
    expectError(fileWith({ a: 5 }, 0), 'bad-format', /tensor "a" must be an object, got 5/);
    expectError(fileWith({ __metadata__: { k: 1 } }, 0), 'bad-format', /__metadata__.k must be a string/);
  });

  it('rejects dtypes by name: unknown ones at parse time, non-float ones at read time', () => {
    expectError(fileWith({ a: t('F33', [1], [0, 4]) }, 4), 'unsupported', /dtype "F33"/);
    expectError(fileWith({ a: t('toString', [1], [0, 4]) }, 4), 'unsupported', /dtype "toString"/);
    expectError(fileWith({ a: t(7, [1], [0, 4]) }, 4), 'bad-format', /dtype must be a string, got 7/);
    const f = parseSafetensors(fileWith({ a: t('I64', [2], [0, 16]) }, 16), 't.safetensors');
    expect(() => readTensorF32(f, 'a')).toThrow(
      expect.objectContaining({
        code: 'unsupported',
        message: expect.stringMatching(/"a" is I64; only F32, F16 and BF16/),
      }),
    );
  });

  it('rejects negative, fractional, huge and non-numeric shapes and offsets', () => {
    expectError(
      fileWith({ a: t('F32', [-1], [0, 4]) }, 4),
      'bad-dims',
      /shape must be a list of non-negative whole numbers, got \[-1\]/,
    );
    expectError(fileWith({ a: t('F32', [1.5], [0, 4]) }, 4), 'bad-dims', /got \[1.5\]/);
    expectError(fileWith({ a: t('F32', '4', [0, 4]) }, 4), 'bad-dims', /got "4"/);
    expectError(fileWith({ a: t('F32', [1e300], [0, 4]) }, 4), 'bad-dims', /got \[1e\+300\]/);
    expectError(
      fileWith({ a: t('F32', [2 ** 40, 2 ** 40], [0, 4]) }, 4),
      'bad-dims',
      /needs more than 4 bytes, data_offsets \[0, 4\] hold 4/,
    );
    expectError(
      fileWith({ a: t('F32', [1], [-4, 4]) }, 4),
      'bad-format',
      /data_offsets must be two non-negative whole numbers, got \[-4,4\]/,
    );
    expectError(fileWith({ a: t('F32', [1], [0]) }, 4), 'bad-format', /got \[0\]/);
    expectError(
      fileWith({ a: t('F32', [1], [0, 2 ** 60]) }, 4),
      'bad-format',
      /data_offsets must be two non-negative whole numbers/,
    );
    expectError(fileWith({ a: t('F32', [1], [4, 0]) }, 4), 'bad-format', /\[4, 0\] end before they begin/);
  });

  it('rejects size mismatches, out-of-range offsets, overlaps, gaps and trailing bytes', () => {
    expectError(
      fileWith({ a: t('F32', [3], [0, 8]) }, 8),
      'bad-dims',
      /"a" \(F32 \[3\]\) needs 12 bytes, data_offsets \[0, 8\] hold 8/,
    );
    expectError(
      fileWith({ a: t('F32', [4], [0, 16]) }, 8),
      'truncated',
      /"a" ends at byte \d+, file has \d+ .*data section 8 bytes/,
    );
    expectError(
      fileWith({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12),
      'bad-format',
      /"b" \(bytes 4..12\) overlaps "a" \(ends at 8\)/,
    );
    expectError(
      fileWith({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12),
      'bad-format',
      /bytes 4..8 of the data section belong to no tensor/,
    );
    expectError(fileWith({ a: t('F32', [1], [0, 4]) }, 8), 'bad-format', /4 bytes belong to no tensor/);
    expect(
      parseSafetensors(fileWith({ a: t('F32', [0, 5], [0, 0]), b: t('F16', [2], [0, 4]) }, 4)).tensors.get('a')!.numel,
    ).toBe(0);
  });
});

describe('ranged reading (header first, then one tensor)', () => {
  const reader = (b: Uint8Array) => ({ size: b.length, read: async (o: number, n: number) => b.slice(o, o + n) });

  it('reads the same header and tensors as the in-memory parser', async () => {
    const f = await parseSafetensorsHeader(reader(real));
    expect(f.bytes).toBeUndefined();
    expect([...f.tensors.keys()]).toEqual([...parseSafetensors(real).tensors.keys()]);
    const name = 'model.layers.3.mlp.up_proj.weight';
    expect((await readTensorF32Ranged(f, name, reader(real))).data).toEqual(
      readTensorF32(parseSafetensors(real), name).data,
    );
    expect(() => readTensorF32(f, name)).toThrow(expect.objectContaining({ code: 'bad-argument' }));
  });

  it('validates before reading further, and notices short reads', async () => {
    await expect(parseSafetensorsHeader(reader(real.subarray(0, 4000)))).rejects.toMatchObject({
      code: 'truncated',
      message: expect.stringMatching(/header length 4856 needs 4864 bytes, file has 4000/),
    });
    await expect(parseSafetensorsHeader(reader(real.subarray(0, 3)))).rejects.toMatchObject({ code: 'truncated' });
    const short = { size: real.length, read: async (o: number, n: number) => real.slice(o, o + Math.min(n, 100)) };
    await expect(parseSafetensorsHeader(short)).rejects.toMatchObject({
      code: 'truncated',
      message: expect.stringMatching(/read 100 header bytes, expected 4856/),
    });
    const f = await parseSafetensorsHeader(reader(real));
    await expect(readTensorF32Ranged(f, 'model.norm.weight', short)).rejects.toMatchObject({
      code: 'truncated',
      message: expect.stringMatching(/read 100 bytes of "model.norm.weight", expected 256/),
    });
  });
});

describe('half-precision decoding', () => {
  it('decodes all 65,536 f16 codes exactly (subnormals, ±0, ±∞, NaN)', () => {
    const codes = new Uint16Array(65536).map((_, i) => i);
    const got = f16ToF32(new Uint8Array(codes.buffer), 0, 65536);
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const want = decodeFloat(h, FLOAT_SPECS.fp16); // the project's independent fp16 reference
      if (Number.isNaN(want) ? !Number.isNaN(got[h]) : !Object.is(got[h], want)) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(got[0x0001]).toBe(2 ** -24); // smallest subnormal
    expect(got[0x7bff]).toBe(65504);
    expect(got[0xfc00]).toBe(-Infinity);
  });

  it('decodes bf16 as the top half of an f32 and rounds to nearest even when encoding', () => {
    const codes = Uint16Array.of(0x3f80, 0xc000, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x8000);
    const got = bf16ToF32(new Uint8Array(codes.buffer), 0, codes.length);
    expect([...got.slice(0, 5)]).toEqual([1, -2, 2 ** -133, Infinity, -Infinity]);
    expect(got[5]).toBeNaN();
    expect(Object.is(got[6], -0)).toBe(true);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });

  it('reads f16 / bf16 tensors at odd byte offsets', () => {
    const data = new Uint8Array([0, 0x00, 0x3c, 0x00, 0xc0]); // pad byte, then f16 1.0, -2.0
    expect([...f16ToF32(data, 1, 2)]).toEqual([1, -2]);
    const file = encodeSafetensors([
      { name: 'a', dtype: 'U8', shape: [1], data: Uint8Array.of(9) },
      { name: 'h', dtype: 'BF16', shape: [2], data: new Uint8Array(Uint16Array.of(0x3f80, 0x4040).buffer) },
    ]);
    expect([...readTensorF32(parseSafetensors(file), 'h').data]).toEqual([1, 3]);
  });
});

describe('writer and shard index', () => {
  it('round-trips tensors and pads the header so data starts 8-aligned', () => {
    const x = Float32Array.of(1.5, -2, 3e-8);
    const bytes = encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: new Uint8Array(x.buffer) }], {
      k: 'v',
    });
    const f = parseSafetensors(bytes);
    expect(f.tensors.get('x')!.begin % 8).toBe(0);
    expect(f.metadata).toEqual({ k: 'v' });
    expect(readTensorF32(f, 'x').data).toEqual(x);
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [4], data: new Uint8Array(x.buffer) }])).toThrow(
      /has 12 bytes, expected 16/,
    );
  });

  it('parses weight_map and refuses paths outside the folder', () => {
    const idx = (m: unknown) => utf8(JSON.stringify({ weight_map: m }));
    expect(parseSafetensorsIndex(idx({ a: 'model-00001-of-00002.safetensors' })).get('a')).toBe(
      'model-00001-of-00002.safetensors',
    );
    for (const bad of [
      '../x.safetensors',
      '/abs.safetensors',
      'sub\\x.safetensors',
      'x.bin',
      5,
      '.hidden.safetensors',
    ]) {
      expect(() => parseSafetensorsIndex(idx({ a: bad }))).toThrow(expect.objectContaining({ code: 'bad-format' }));
    }
    expect(() => parseSafetensorsIndex(idx([]))).toThrow(/weight_map must be an object/);
  });
});
