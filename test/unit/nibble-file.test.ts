// .nibble files: bit-exact round trips for every weight format, and typed errors (never a
// crash or an oversized allocation) for corrupt files.
import { describe, expect, it } from 'vitest';
import { NibbleError } from '../../src/core/errors.ts';
import { CpuForward } from '../../src/core/model/forward.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { LINEAR_NAMES } from '../../src/core/model/model.ts';
import { isNibbleFile, writeNibbleFile } from '../../src/core/formats/nibble-file.ts';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { DEFAULT_SPEC, type QuantSpec } from '../../src/core/quant/quant-spec.ts';
import { seededRandom, stories260K, tok512 } from './helpers.ts';

const model = parseLlama2c(stories260K());

const specs: Partial<QuantSpec>[] = [
  { method: 'fp32' },
  { method: 'rtn', bits: 4, group: 32 },
  { method: 'rtn', bits: 3, group: 0, sym: true },
  { method: 'rtn', bits: 2, group: 64, scaleType: 'f16' },
  { method: 'rtn', bits: 6, group: 0 },
  { method: 'nf4', group: 64, doubleQuant: true },
  { method: 'fp4', group: 64 },
  { method: 'llmint8', threshold: 6 },
  { method: 'trunc', mantissaBits: 3 },
];

describe('.nibble files', () => {
  for (const s of specs) {
    it(`round-trips ${JSON.stringify(s)} bit-exactly`, async () => {
      const spec = { ...DEFAULT_SPEC, ...s } as QuantSpec;
      const { model: q } = await quantizeModel(model, spec);
      const bytes = writeNibbleFile(q, { tokenizer: tok512(), label: 'test', spec });
      expect(isNibbleFile(bytes)).toBe(true);
      const back = readNibbleFile(bytes);
      expect(back.model.config).toEqual(q.config);
      expect(back.tokenizer).toEqual(tok512());
      for (let l = 0; l < 5; l++)
        for (const n of LINEAR_NAMES) expect(back.model.weights.layers[l][n]).toEqual(q.weights.layers[l][n]);
      expect(new CpuForward(back.model).forward([1, 403, 407], 0)).toEqual(new CpuForward(q).forward([1, 403, 407], 0));
    });
  }

  it('keeps act-order g_idx through a round trip', async () => {
    const cal = [[1, ...Array.from({ length: 63 }, (_, i) => ((i * 37) % 500) + 3)]];
    const { model: q } = await quantizeModel(
      model,
      { ...DEFAULT_SPEC, method: 'gptq', bits: 4, group: 32, actOrder: true },
      { calibration: cal },
    );
    const w = q.weights.layers[0].wq;
    expect(w.format === 'q4' && w.buffers.gIdx).toBeTruthy();
    expect(readNibbleFile(writeNibbleFile(q)).model.weights.layers[0].wq).toEqual(w);
  });

  it('stores Qwen2 attention biases (every layer) and refuses a file missing one', async () => {
    const rnd = seededRandom(7);
    const c = model.config;
    const vec = (n: number) => ({
      format: 'f32' as const,
      shape: [n],
      data: Float32Array.from({ length: n }, () => rnd() - 0.5),
    });
    const kvd = c.nKvHeads * c.headSize;
    const biased = {
      config: c,
      weights: {
        ...model.weights,
        attnBias: model.weights.layers.map(() => ({ bq: vec(c.dim), bk: vec(kvd), bv: vec(kvd) })),
      },
    };
    const { model: q } = await quantizeModel(biased, { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 });
    expect(q.weights.attnBias).toBe(biased.weights.attnBias);
    const back = readNibbleFile(writeNibbleFile(q, { tokenizer: tok512() })).model;
    expect(back.weights.attnBias).toEqual(q.weights.attnBias);
    const ids = [1, 403, 407];
    const got = new CpuForward(back).forward(ids, 0);
    expect(got).toEqual(new CpuForward(q).forward(ids, 0));
    expect(got).not.toEqual(new CpuForward({ ...q, weights: { ...q.weights, attnBias: undefined } }).forward(ids, 0));
    // The header-only plan (the page's inspect) counts the biases as a load holds them.
    const { describeCheckpoint } = await import('../../src/core/formats/model-inspect.ts');
    const { describeModelTensors } = await import('../../src/core/plan/model-tensors.ts');
    const { bytesReader } = await import('../../src/core/formats/model-open.ts');
    const file = writeNibbleFile(q, { tokenizer: tok512() });
    expect((await describeCheckpoint(bytesReader(file))).tensors).toEqual(describeModelTensors(back));
    // A header naming layer 0's biases but not layer 3's is refused, not half-applied.
    const bytes = writeNibbleFile(q);
    const hlen = new DataView(bytes.buffer).getUint32(8, true);
    const header = new TextDecoder().decode(bytes.subarray(12, 12 + hlen)).replace('"layers.3.bk"', '"layers.3.xx"');
    bytes.set(new TextEncoder().encode(header), 12);
    expect(() => readNibbleFile(bytes)).toThrow(
      expect.objectContaining({ code: 'bad-format', message: expect.stringMatching(/layers\.3\.bk is missing/) }),
    );
  });

  it('rejects truncation, bad magic, a lying header and overlapping buffers with typed errors', async () => {
    const { model: q } = await quantizeModel(model, { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 });
    const good = writeNibbleFile(q, { tokenizer: tok512() });
    const code = (b: Uint8Array) => {
      try {
        readNibbleFile(b);
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(NibbleError);
        return (e as NibbleError).code;
      }
    };
    expect(code(good.subarray(0, good.byteLength - 100))).toBe('truncated');
    expect(code(good.subarray(0, 8))).toBe('truncated');
    expect(code(tok512())).toBe('bad-format');
    const hlen = new DataView(good.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(good.subarray(12, 12 + hlen)));
    const rewrite = (mut: (h: typeof header) => void) => {
      const h = structuredClone(header);
      mut(h);
      const json = new TextEncoder().encode(JSON.stringify(h));
      if (12 + json.byteLength > header.tensors.tok_emb.buffers.data.offset)
        throw new Error('header outgrew its slack');
      const b = good.slice();
      b.fill(0, 12, header.tensors.tok_emb.buffers.data.offset);
      b.set(json, 12);
      new DataView(b.buffer).setUint32(8, json.byteLength, true);
      return b;
    };
    expect(code(rewrite((h) => (h.config.dim = 1 << 30)))).toMatch(/bad-dims|bad-format/);
    expect(code(rewrite((h) => (h.tensors['layers.0.wq'].buffers.data.bytes = 2 ** 40)))).toBe('bad-format');
    expect(
      code(
        rewrite((h) => (h.tensors['layers.1.wq'].buffers.data.offset = h.tensors['layers.0.wq'].buffers.data.offset)),
      ),
    ).toBe('bad-format');
    expect(code(rewrite((h) => (h.tensors['layers.0.w2'].shape = [64, 171])))).toBe('bad-format');
    expect(code(rewrite((h) => (h.tensors['layers.0.wq'].format = 'q5')))).toBe('bad-format');
    expect(code(rewrite((h) => (h.tensors['layers.0.wq'].group = -3)))).toBe('bad-format');
    // Random byte flips anywhere: a valid model or a NibbleError, nothing else.
    const rnd = seededRandom(2);
    for (let i = 0; i < 200; i++) {
      const b = good.slice();
      for (let k = 0; k < 4; k++) b[Math.floor(rnd() * Math.min(b.byteLength, 12 + hlen))] = Math.floor(rnd() * 256);
      code(b);
    }
  });
});

describe('.nibble files with a Hugging Face tokenizer', () => {
  it('keep chat_template.jinja and the BOS/EOS ids config.json / generation_config.json gave', async () => {
    const { hfFixtureFiles, folderOf } = await import('./hf-fixture.ts');
    const { openHfFolder } = await import('../../src/core/formats/model-open.ts');
    const { tokenizerFromFiles } = await import('../../src/core/tokenizers/tokenizer-files.ts');
    const files = hfFixtureFiles();
    files['chat_template.jinja'] = new TextEncoder().encode(
      '{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{{ eos_token }}',
    );
    files['generation_config.json'] = new TextEncoder().encode(
      JSON.stringify({ bos_token_id: 1, eos_token_id: [2, 7] }),
    );
    const opened = await openHfFolder(folderOf(files));
    expect(opened.tokenizerFiles.kind === 'hf' && opened.tokenizerFiles.options?.chatTemplate).toMatch(/^\{% for m/);
    const back = readNibbleFile(writeNibbleFile(opened.model, { tokenizer: opened.tokenizerFiles }));
    expect(back.tokenizerFiles).toEqual(opened.tokenizerFiles);
    const tok = tokenizerFromFiles(back.tokenizerFiles!, back.model.config.vocabSize);
    expect(tok.stopIds).toEqual(opened.tokenizer.stopIds);
    expect(tok.stopIds).toContain(7);
    expect((tok as { chatTemplate?: string }).chatTemplate).toBe(opened.chatTemplate);
    // A corrupt options object is a typed error, not a crash.
    const bytes = writeNibbleFile(opened.model, { tokenizer: opened.tokenizerFiles });
    const hlen = new DataView(bytes.buffer).getUint32(8, true);
    const header = new TextDecoder()
      .decode(bytes.subarray(12, 12 + hlen))
      .replace('"eosIds":[2,2,7]', '"eosIds":[2.5,7]');
    bytes.set(new TextEncoder().encode(header), 12);
    expect(() => readNibbleFile(bytes)).toThrow(
      expect.objectContaining({ code: 'bad-format', message: expect.stringMatching(/eosIds must be a token id/) }),
    );
  });
});
