// The GGUF reader on the real file llama.cpp wrote (llama-convert-llama2c-to-ggml from
// stories260K): same weights, logits, vocabulary and golden greedy text as the llama2.c
// checkpoint; and on small files built here, every metadata type, alignment, and each structural
// error as a typed NibbleError with the right code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NibbleError } from '../../src/core/errors.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { isGgufFile, parseGguf } from '../../src/core/formats/gguf/read.ts';
import { GgmlType, GgufValueType as T } from '../../src/core/formats/gguf/types.ts';
import { vocabFromLlama2c } from '../../src/core/formats/gguf/vocab.ts';
import { serializeGguf, type GgufKvEntry, type GgufTensorEntry } from '../../src/core/formats/gguf/write.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { LAYER_KEYS } from '../../src/core/formats/nibble-file.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';
import { readProjectFile, stories260K, tok512 } from './helpers.ts';

const GGUF = readProjectFile('test/fixtures/stories260K-f32.gguf');
const GOLDEN = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8');

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof NibbleError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'ok';
};

describe('stories260K-f32.gguf written by llama.cpp', () => {
  const ref = parseLlama2c(stories260K());
  const g = loadGguf(GGUF, { contextLength: 512 });

  it('parses as GGUF v3 with 48 tensors at alignment 32', () => {
    const f = parseGguf(GGUF);
    expect(isGgufFile(GGUF)).toBe(true);
    expect([f.version, f.tensors.length, f.alignment]).toEqual([3, 48, 32]);
    expect(f.kv.get('general.architecture')?.value).toBe('llama');
    expect(f.kv.get('llama.context_length')?.value).toBe(128); // llama.cpp's -c; we override to 512 here
    expect(loadGguf(GGUF).model.config.seqLen).toBe(128);
  });

  it('holds exactly the llama2.c weights (q/k rows already in the interleaved layout)', () => {
    const { seqLen: _a, normEps: _b, ...cfg } = g.model.config;
    const { seqLen: _c, normEps: _d, ...want } = ref.config;
    expect(cfg).toEqual(want); // output.weight equals token_embd byte for byte → shared
    expect(g.model.config.normEps).toBe(Math.fround(1e-5)); // stored as f32
    const w = g.model.weights;
    expect(w.wcls).toBe(w.tokEmb);
    const same = (a: Tensor, b: Tensor) =>
      a.format === 'f32' &&
      b.format === 'f32' &&
      a.shape.join() === b.shape.join() &&
      Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer));
    expect(same(w.tokEmb, ref.weights.tokEmb) && same(w.rmsFinal, ref.weights.rmsFinal)).toBe(true);
    const bad = w.layers.flatMap((lw, l) =>
      LAYER_KEYS.filter((k) => !same(lw[k], ref.weights.layers[l][k])).map((k) => `${l}.${k}`),
    );
    expect(bad).toEqual([]);
  });

  it('gives the same logits as public/models/stories260K.bin (≤ 1e-5; in fact equal)', () => {
    const tokens = [1, 403, 407, 261, 378, 1000 % 512, 88];
    const a = new CpuForward(g.model).forwardAll(tokens, 0);
    const b = new CpuForward(ref).forwardAll(tokens, 0);
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    expect(max).toBeLessThanOrEqual(1e-5);
  });

  it('its tokenizer is tok512 piece for piece and encodes like it', () => {
    const v = vocabFromLlama2c(tok512(), 512);
    expect(g.vocab.pieces).toEqual(v.pieces);
    expect(g.vocab.scores).toEqual(v.scores);
    const mine = Tokenizer.fromLlama2c(tok512(), 512);
    const text =
      readFileSync(new URL('../../public/data/tinystories-eval.txt', import.meta.url), 'utf8').slice(0, 3000) +
      ' ünïcödé 🦙';
    expect(g.tokenizer.encode(text, { bos: true, eos: false })).toEqual(mine.encode(text, { bos: true, eos: false }));
    expect(Tokenizer.fromLlama2c(g.tokenizerBytes, 512).encode(text, { bos: true, eos: true })).toEqual(
      mine.encode(text, { bos: true, eos: true }),
    );
  });

  it('greedy 200 tokens from BOS reproduce the golden text', async () => {
    const res = await generate(createCpuRunner(g.model), g.tokenizer, '', {
      maxTokens: 200,
      temperature: 0,
      topP: 1,
      seed: 1,
    });
    expect(res.text).toBe(GOLDEN.replace(/\n$/, ''));
  });
});

/** A minimal valid-structure GGUF with one F32 tensor, for the error cases. */
function tiny(kvs: GgufKvEntry[] = [], tensors?: GgufTensorEntry[], alignment?: number): Uint8Array {
  return serializeGguf(
    kvs,
    tensors ?? [{ name: 't', ne: [4, 2], type: GgmlType.F32, data: new Uint8Array(32) }],
    alignment,
  );
}

describe('GGUF structure', () => {
  it('round-trips every metadata value type, nested arrays and alignment 64', () => {
    const kvs: GgufKvEntry[] = [
      { key: 'u8', type: T.U8, value: 200 },
      { key: 'i8', type: T.I8, value: -100 },
      { key: 'u16', type: T.U16, value: 60000 },
      { key: 'i16', type: T.I16, value: -30000 },
      { key: 'u32', type: T.U32, value: 4e9 },
      { key: 'i32', type: T.I32, value: -2e9 },
      { key: 'f32', type: T.F32, value: 1.5 },
      { key: 'bool', type: T.BOOL, value: true },
      { key: 'str', type: T.STRING, value: 'héllo ▁' },
      { key: 'u64', type: T.U64, value: 2n ** 63n + 5n },
      { key: 'i64', type: T.I64, value: -(2n ** 62n) },
      { key: 'f64', type: T.F64, value: Math.PI },
      { key: 'general.alignment', type: T.U32, value: 64 },
      {
        key: 'arr',
        type: T.ARRAY,
        value: {
          elemType: T.ARRAY,
          values: [
            { elemType: T.STRING, values: ['a', ''] },
            { elemType: T.BOOL, values: [false, true] },
          ],
        },
      },
      { key: 'f32s', type: T.ARRAY, value: { elemType: T.F32, values: Float32Array.of(1, -2, 3.5) } },
    ];
    const t: GgufTensorEntry[] = [
      { name: 'a', ne: [3], type: GgmlType.F32, data: new Uint8Array(12).fill(1) },
      { name: 'b', ne: [32, 2], type: GgmlType.Q8_0, data: new Uint8Array(68).fill(2) },
    ];
    const f = parseGguf(tiny(kvs, t, 64));
    expect(f.alignment).toBe(64);
    expect(f.dataStart % 64).toBe(0);
    expect(f.tensors.map((x) => [x.name, x.offset, x.bytes])).toEqual([
      ['a', 0, 12],
      ['b', 64, 68],
    ]);
    for (const kv of kvs) {
      const got = f.kv.get(kv.key)!;
      expect(got.type).toBe(kv.type);
      if (kv.key === 'arr') {
        const a = got.value as { values: { values: unknown }[] };
        expect(a.values.map((x) => Array.from(x.values as ArrayLike<unknown>))).toEqual([
          ['a', ''],
          [false, true],
        ]);
      } else if (kv.key === 'f32s')
        expect(Array.from((got.value as { values: Float32Array }).values)).toEqual([1, -2, 3.5]);
      else expect(got.value).toEqual(kv.value);
    }
  });

  const patch = (b: Uint8Array, at: number, f: (dv: DataView) => void) => {
    const c = b.slice();
    f(new DataView(c.buffer));
    return c;
  };
  const ok = tiny();
  // Offsets in `tiny()`: header 24 bytes; tensor info: name (8 + 1) at 24, n_dims at 33, ne at 37/45, type at 53, offset at 57.

  it.each([
    ['wrong magic', patch(ok, 0, (d) => d.setUint32(0, 0x46554746, true)), /^bad-format: GGUF: not a GGUF file/],
    ['version 1', patch(ok, 0, (d) => d.setUint32(4, 1, true)), /^unsupported: GGUF version 1/],
    ['big-endian', patch(ok, 0, (d) => d.setUint32(4, 3, false)), /^unsupported: .*big-endian/],
    ['version 9', patch(ok, 0, (d) => d.setUint32(4, 9, true)), /^unsupported: GGUF version 9/],
    [
      'huge tensor_count',
      patch(ok, 0, (d) => d.setBigUint64(8, 2n ** 62n, true)),
      /^bad-format: GGUF: tensor_count = \d+ exceeds/,
    ],
    [
      'negative kv_count',
      patch(ok, 0, (d) => d.setBigInt64(16, -1n, true)),
      /^bad-format: GGUF: kv_count = 18446744073709551615 exceeds/,
    ],
    [
      'huge name length',
      patch(ok, 0, (d) => d.setBigUint64(24, 2n ** 40n, true)),
      /^bad-format: GGUF: tensor 0 name length = 1099511627776 exceeds/,
    ],
    ['5 dims', patch(ok, 0, (d) => d.setUint32(33, 5, true)), /^bad-dims: GGUF: tensor 't' has 5 dimensions/],
    ['zero dim', patch(ok, 0, (d) => d.setBigUint64(37, 0n, true)), /^bad-dims: .*ne\[0\] = 0/],
    [
      'huge dims',
      patch(ok, 0, (d) => (d.setBigUint64(37, 2n ** 30n, true), d.setBigUint64(45, 2n ** 30n, true))),
      /^bad-dims: .*more than 2\^40 elements/,
    ],
    [
      'dims past the data',
      patch(ok, 0, (d) => d.setBigUint64(45, 3n, true)),
      /^truncated: GGUF: tensor 't' .* ends past the data section/,
    ],
    ['type Q5_0', patch(ok, 0, (d) => d.setUint32(53, 6, true)), /^unsupported: GGUF: tensor 't' has ggml type Q5_0/],
    ['type 999', patch(ok, 0, (d) => d.setUint32(53, 999, true)), /^unsupported: .*type 999/],
    [
      'row not whole blocks',
      patch(ok, 0, (d) => d.setUint32(53, GgmlType.Q8_0, true)),
      /^bad-dims: .*row length 4 is not a multiple of the Q8_0 block size 32/,
    ],
    [
      'misaligned offset',
      patch(ok, 0, (d) => d.setBigUint64(57, 4n, true)),
      /^bad-format: GGUF: tensor 't' offset 4 is not a multiple of the alignment 32/,
    ],
    ['truncated', ok.subarray(0, ok.length - 1), /^truncated: GGUF: tensor 't'/],
    ['truncated header', ok.subarray(0, 30), /^bad-format: GGUF: tensor_count = 1 exceeds what 30 bytes can hold/],
  ])('%s → typed error', (_name, bytes, want) => {
    expect(code(() => parseGguf(bytes))).toMatch(want);
  });

  it('rejects overlapping tensors, duplicate names/keys, bad alignment, bad bools', () => {
    const two: GgufTensorEntry[] = [
      { name: 'a', ne: [8], type: GgmlType.F32, data: new Uint8Array(32) },
      { name: 'b', ne: [8], type: GgmlType.F32, data: new Uint8Array(32) },
    ];
    const f = tiny([], two);
    const off = parseGguf(f);
    const bOffsetAt = f.indexOf(0x62, 24) + 1 + 4 + 8 + 4; // after name 'b': n_dims, ne[0], type
    expect(code(() => parseGguf(patch(f, 0, (d) => d.setBigUint64(bOffsetAt, 0n, true))))).toMatch(
      /^bad-format: GGUF: tensors 'a' \[0, 32\) and 'b' \(from 0\) overlap/,
    );
    expect(off.tensors[1].offset).toBe(32);
    expect(code(() => parseGguf(tiny([], [two[0], { ...two[1], name: 'a' }])))).toMatch(
      /tensor name 'a' appears twice/,
    );
    expect(
      code(() =>
        parseGguf(
          tiny([
            { key: 'k', type: T.U8, value: 1 },
            { key: 'k', type: T.U8, value: 2 },
          ]),
        ),
      ),
    ).toMatch(/key 'k' appears twice/);
    expect(code(() => parseGguf(tiny([{ key: 'general.alignment', type: T.U32, value: 48 }])))).toMatch(
      /alignment = 48 is not a power of two/,
    );
    expect(code(() => parseGguf(tiny([{ key: 'general.alignment', type: T.U64, value: 64 }])))).toMatch(
      /alignment must be a u32/,
    );
    // key 'b' (8 + 1 bytes from 24), type at 33, the bool byte at 37
    expect(
      code(() => parseGguf(patch(tiny([{ key: 'b', type: T.BOOL, value: true }]), 0, (d) => d.setUint8(37, 2)))),
    ).toMatch(/bool byte 2/);
    const deep = {
      elemType: T.ARRAY,
      values: [
        {
          elemType: T.ARRAY,
          values: [
            {
              elemType: T.ARRAY,
              values: [{ elemType: T.ARRAY, values: [{ elemType: T.U8, values: Uint8Array.of(1) }] }],
            },
          ],
        },
      ],
    };
    expect(code(() => parseGguf(tiny([{ key: 'deep', type: T.ARRAY, value: deep }])))).toMatch(
      /nested more than 4 deep/,
    );
  });

  it('loadGguf: non-llama architectures and tokenizers are unsupported, naming them', () => {
    const kv = (arch: string, tok = 'llama'): GgufKvEntry[] => [
      { key: 'general.architecture', type: T.STRING, value: arch },
      { key: 'tokenizer.ggml.model', type: T.STRING, value: tok },
    ];
    const emb: GgufTensorEntry[] = [
      { name: 'token_embd.weight', ne: [4, 2], type: GgmlType.F32, data: new Uint8Array(32) },
    ];
    expect(code(() => loadGguf(tiny(kv('qwen2'), emb)))).toBe(
      "unsupported: GGUF: architecture 'qwen2' is not supported (only 'llama')",
    );
    expect(code(() => loadGguf(tiny(kv('llama'), emb)))).toMatch(
      /^bad-format: GGUF: metadata 'llama.embedding_length' is missing/,
    );
    expect(code(() => loadGguf(tiny(kv('llama'))))).toMatch(/tensor 'token_embd.weight' is missing/);
  });

  it('loadGguf on the real file with one key changed', () => {
    const f = parseGguf(GGUF);
    const kvs = [...f.kv].map(([key, v]) => ({ key, ...v }));
    const tensors = f.tensors.map((t) => ({
      name: t.name,
      ne: t.ne,
      type: t.type,
      data: GGUF.subarray(f.dataStart + t.offset, f.dataStart + t.offset + t.bytes),
    }));
    const withKv = (key: string, type: number, value: unknown) =>
      serializeGguf(
        kvs.map((k) => (k.key === key ? ({ key, type, value } as GgufKvEntry) : k)),
        tensors,
      );
    expect(code(() => loadGguf(serializeGguf(kvs, tensors)))).toBe('ok');
    expect(code(() => loadGguf(withKv('tokenizer.ggml.model', T.STRING, 'gpt2')))).toMatch(
      /^unsupported: GGUF: tokenizer model 'gpt2'/,
    );
    expect(code(() => loadGguf(withKv('llama.attention.head_count', T.U32, 7)))).toMatch(
      /^bad-dims: GGUF: embedding_length 64 is not a multiple of head_count 7/,
    );
    expect(code(() => loadGguf(withKv('llama.rope.dimension_count', T.U32, 4)))).toMatch(
      /^unsupported: GGUF: partial rotary/,
    );
    expect(code(() => loadGguf(withKv('llama.block_count', T.U32, 6)))).toMatch(
      /tensor 'blk.5.attn_norm.weight' is missing/,
    );
    expect(code(() => loadGguf(withKv('llama.feed_forward_length', T.U32, 171)))).toMatch(
      /^bad-dims: GGUF: tensor 'blk.0.ffn_gate.weight' has ne \[64,172\], the config needs \[64,171\]/,
    );
    expect(code(() => loadGguf(withKv('llama.embedding_length', T.F32, 64)))).toMatch(/must be an integer/);
    expect(
      code(() => loadGguf(withKv('tokenizer.ggml.tokens', T.ARRAY, { elemType: T.STRING, values: ['a', 'b', 'c'] }))),
    ).toMatch(/^tokenizer-mismatch: .*3 tokens, token_embd.weight has 512 rows/);
  });
});
