// Formats at real sizes and with counts that disagree (issue 10, rows 2, 10, 12): GGUF exports
// of 32k and 150k vocabularies (headers far past the writer's first 64 KiB buffer) load back
// token for token and logit for logit; one set of bounds for every format (a 2^20 context
// loads, saves as .nibble and loads back; rms eps 0 and a 70,000-byte token are refused by every
// loader alike); layer counts, vocab_size, sharedClassifier and zero points that disagree with
// the tensors present are typed errors, not a silently shorter model.
import { describe, expect, it } from 'vitest';
import { isNibbleError } from '../../src/core/errors.ts';
import { loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { parseGguf } from '../../src/core/formats/gguf/read.ts';
import { GgufValueType } from '../../src/core/formats/gguf/types.ts';
import { llama2cTokenizerBytes } from '../../src/core/formats/gguf/vocab.ts';
import { serializeGguf, writeGgufModel, type GgufKvEntry } from '../../src/core/formats/gguf/write.ts';
import { loadHfModel } from '../../src/core/formats/hf/load.ts';
import { writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import type { F32Tensor } from '../../src/core/tensor.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { folderOf, hfFixtureFiles, withConfig } from './hf-fixture.ts';
import { tinyModel, tinyVocab } from './hostile-fixtures.ts';

const caught = async (f: () => unknown): Promise<unknown> => {
  try {
    await f();
  } catch (e) {
    return e;
  }
  return null;
};
const logits = (m: LlamaModel, ids: number[]) => new CpuForward(m).forwardAll(ids, 0);

/** A .nibble file with its header JSON edited in place (the edit may not lengthen it: spaces pad). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test edits arbitrary header fields
function editNibbleHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const hlen = dv.getUint32(8, true);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen)));
  edit(h);
  const json = new TextEncoder().encode(JSON.stringify(h));
  if (json.length > hlen) throw new Error('edit lengthens the header');
  const out = bytes.slice();
  out.fill(0x20, 12, 12 + hlen);
  out.set(json, 12);
  return out;
}

describe('GGUF export of real-size vocabularies (row 2)', () => {
  for (const V of [32_000, 150_000]) {
    it(`${V} tokens: gguf-f32 writes, loads back with the same pieces and logits`, () => {
      const model = tinyModel({ vocabSize: V, seed: V });
      const vocab = tinyVocab(V);
      const bytes = writeGgufModel(model, vocab, 'gguf-f32');
      const g = loadGguf(bytes);
      expect(g.vocab.pieces.length).toBe(V);
      expect(g.vocab.pieces[V - 1]).toEqual(vocab.pieces[V - 1]);
      const text = (ps: Uint8Array[]) => ps.map((p) => new TextDecoder().decode(p)).join('\u0000');
      expect(text(g.vocab.pieces) === text(vocab.pieces)).toBe(true);
      const ids = [1, 300, V - 1, 17];
      expect(logits(g.model, ids)).toEqual(logits(model, ids));
    }, 120_000);
  }

  it('32,000 tokens: gguf-q8_0 writes and loads back (header > 64 KiB)', () => {
    const V = 32_000;
    const bytes = writeGgufModel(tinyModel({ vocabSize: V }), tinyVocab(V), 'gguf-q8_0');
    const f = parseGguf(bytes);
    expect(f.dataStart).toBeGreaterThan(1 << 16);
    expect(loadGguf(bytes).vocab.pieces.length).toBe(V);
  });
});

describe('one set of bounds for every format (row 10)', () => {
  it('a GGUF with a 2^20 context loads, saves as .nibble and loads back', () => {
    const model = tinyModel({ vocabSize: 300, seqLen: 1 << 20 });
    const g = loadGguf(writeGgufModel(model, tinyVocab(300), 'gguf-f32'), { contextLength: undefined });
    expect(g.model.config.seqLen).toBe(1 << 20);
    const back = readNibbleFile(writeNibbleFile(g.model, { tokenizer: g.tokenizerBytes }));
    expect(back.model.config.seqLen).toBe(1 << 20);
  });

  it('rms eps 0 is refused by the GGUF loader as by the .nibble and HF ones', async () => {
    const model = tinyModel({ vocabSize: 300 });
    model.config.normEps = 0;
    const e = await caught(() => loadGguf(writeGgufModel(model, tinyVocab(300), 'gguf-f32')));
    expect(isNibbleError(e) && e.code).toBe('bad-dims');
    expect((e as Error).message).toMatch(/layer_norm_rms_epsilon' = 0 is outside \(0, 1\)/);
    const n = await caught(() => readNibbleFile(writeNibbleFile(model)));
    expect((n as Error).message).toMatch(/normEps 0 is not in \(0, 1\)/);
  });

  it('a 70,000-byte token is refused by the GGUF loader and the llama2.c tokenizer alike', async () => {
    const vocab = tinyVocab(300, { 290: 70_000 });
    const e = await caught(() => loadGguf(writeGgufModel(tinyModel({ vocabSize: 300 }), vocab, 'gguf-f32')));
    expect(isNibbleError(e) && e.code).toBe('over-limit');
    const t = await caught(() => Tokenizer.fromLlama2c(llama2cTokenizerBytes(vocab), 300));
    expect(isNibbleError(t) && t.code).toBe('bad-format'); // max_token_length 70000 > 65536
  });
});

describe('counts that disagree with the tensors present (row 12)', () => {
  it('GGUF block_count 1 with five layers of tensors', async () => {
    const m = tinyModel({ vocabSize: 300, nLayers: 5 });
    const e = await caught(() =>
      loadGguf(writeGgufModel({ ...m, config: { ...m.config, nLayers: 1 } }, tinyVocab(300), 'gguf-f32')),
    );
    expect(isNibbleError(e) && e.code).toBe('bad-dims');
    expect((e as Error).message).toMatch(/tensor 'blk\.1\..*' is present but llama\.block_count is 1/);
  });

  it('GGUF llama.vocab_size different from the embedding rows', async () => {
    const bytes = writeGgufModel(tinyModel({ vocabSize: 300 }), tinyVocab(300), 'gguf-f32');
    const f = parseGguf(bytes);
    expect(f.kv.get('llama.vocab_size')?.value).toBe(300);
    const kvs: GgufKvEntry[] = [...f.kv].map(([key, v]) =>
      key === 'llama.vocab_size'
        ? { key, type: GgufValueType.U32, value: 320 }
        : ({ key, type: v.type, value: v.value } as GgufKvEntry),
    );
    const tensors = f.tensors.map((t) => ({
      name: t.name,
      ne: t.ne,
      type: t.type,
      data: bytes.subarray(f.dataStart + t.offset, f.dataStart + t.offset + t.bytes),
    }));
    const e = await caught(() => loadGguf(serializeGguf(kvs, tensors)));
    expect((e as Error).message).toMatch(/llama\.vocab_size is 320 but token_embd\.weight has 300 rows/);
  });

  it('HF num_hidden_layers 1 with five layers in the safetensors', async () => {
    const files = withConfig(hfFixtureFiles(), (c) => (c.num_hidden_layers = 1));
    const e = await caught(() => loadHfModel(folderOf(files)));
    expect(isNibbleError(e) && e.code).toBe('bad-dims');
    expect((e as Error).message).toMatch(
      /"model\.layers\.1\..*" belongs to layer 1, past config\.json's num_hidden_layers/,
    );
  });

  it('.nibble nLayers 1 with five layers, and sharedClassifier flipped', async () => {
    const five = writeNibbleFile(tinyModel({ vocabSize: 300, nLayers: 5 }));
    const e = await caught(() => readNibbleFile(editNibbleHeader(five, (h) => (h.config.nLayers = 1))));
    expect((e as Error).message).toMatch(/tensor layers\.1\.\w+ is in the file but unused .*nLayers 1/);
    const m = tinyModel({ vocabSize: 300 });
    const unshared: LlamaModel = {
      config: { ...m.config, sharedClassifier: false },
      weights: { ...m.weights, wcls: { ...(m.weights.tokEmb as F32Tensor) } },
    };
    const f = await caught(() =>
      readNibbleFile(editNibbleHeader(writeNibbleFile(unshared), (h) => (h.config.sharedClassifier = true))),
    );
    expect((f as Error).message).toMatch(/tensor wcls is in the file but unused \(config\.sharedClassifier is true/);
  });

  it('.nibble zero points outside the 4-bit grid', async () => {
    const m = tinyModel({ vocabSize: 300 });
    const q = quantizeTensor(m.weights.layers[0].wk as F32Tensor, { format: 'q4', group: 32, sym: false });
    expect((q.buffers as { zeros?: Uint32Array }).zeros).toBeDefined();
    (q.buffers as { zeros: Uint32Array }).zeros[0] = (q.buffers as { zeros: Uint32Array }).zeros[0] | 0xc8; // zero 0 = 200+
    m.weights.layers[0].wk = q;
    const e = await caught(() => readNibbleFile(writeNibbleFile(m)));
    expect(isNibbleError(e) && e.code).toBe('bad-format');
    expect((e as Error).message).toMatch(/layers\.0\.wk: zero point 0 is \d+, outside the 4-bit grid 0\.\.15/);
  });
});
