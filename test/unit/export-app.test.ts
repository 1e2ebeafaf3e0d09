// Export from the app: the lab's `export-model` request through the real host (in-thread, CPU)
// and the store action. Files are re-read with the repository's readers: a GGUF f32 export of the
// loaded model gives identical logits, a q4 RTN variant becomes an AutoGPTQ folder (3 files,
// bits 4), an HF folder (dequantized) and a .nibble file whose tensors are bit-exact; errors come
// back typed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { memoryFolder } from '../../src/core/formats/hf/load.ts';
import { GGUF_MAGIC } from '../../src/core/formats/gguf/types.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { openHfFolder } from '../../src/core/formats/model-open.ts';
import { LINEAR_NAMES, type LlamaModel } from '../../src/core/model/model.ts';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import { parseSafetensors } from '../../src/core/formats/safetensors.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { exportModelFiles } from '../../src/engine/export-model.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { createAppStore } from '../../src/state/store.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { DEFAULT_SPEC, type ExportedFiles, type QuantSpec } from '../../src/worker/engine-host/lab-protocol.ts';
import { hfFixtureFiles } from './hf-fixture.ts';

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const MODEL = read('public/models/stories260K.bin');
const TOK = read('public/models/tok512.bin');
const FILES: Record<string, Uint8Array> = {
  '/m.bin': MODEL,
  '/t.bin': TOK,
  '/calib.txt': read('public/data/tinystories-calib.txt'),
};
const TEXT = { calib: '/calib.txt', eval: '/calib.txt' };
const RTN4: QuantSpec = { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 };
const TOKENS = [1, 403, 407, 261, 378, 9, 42];

async function client() {
  const c = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
  await c.load({ kind: 'bytes', name: 'stories260K', model: MODEL.slice().buffer, tokenizer: TOK.slice().buffer });
  return c;
}

const bytesOf = (e: ExportedFiles, name: string) => new Uint8Array(e.files.find((f) => f.name === name)!.bytes);
const text = (e: ExportedFiles, name: string) => JSON.parse(new TextDecoder().decode(bytesOf(e, name)));
const logits = async (m: LlamaModel) => (await createCpuRunner(m).logitsAll(TOKENS)).logits;

/** Every buffer of every tensor, byte for byte. */
function expectSameWeights(a: LlamaModel, b: LlamaModel): void {
  const bufs = (t: object) => {
    const x = t as { format: string; data?: ArrayBufferView; buffers?: Record<string, ArrayBufferView | undefined> };
    const all = x.format === 'f32' ? { data: x.data } : x.buffers!;
    return Object.fromEntries(
      Object.entries(all)
        .filter(([, v]) => v)
        .map(([k, v]) => [k, [...new Uint8Array(v!.buffer, v!.byteOffset, v!.byteLength)]]),
    );
  };
  a.weights.layers.forEach((la, l) => {
    for (const n of [...LINEAR_NAMES, 'rmsAtt', 'rmsFfn'] as const) {
      const [ta, tb] = [la[n], b.weights.layers[l][n]];
      expect(tb.format, `layer ${l} ${n}`).toBe(ta.format);
      expect(bufs(tb), `layer ${l} ${n}`).toEqual(bufs(ta));
    }
  });
  expect(bufs(b.weights.tokEmb)).toEqual(bufs(a.weights.tokEmb));
  expect(bufs(b.weights.rmsFinal)).toEqual(bufs(a.weights.rmsFinal));
}

describe('export-model through the engine (CPU host)', () => {
  it('base as gguf-f32: one .gguf whose model gives the loaded model’s logits exactly; q8_0 too', async () => {
    const c = await client();
    try {
      const e = await c.exportModel('base', 'gguf-f32');
      expect(e).toMatchObject({ format: 'gguf-f32', label: 'fp32' });
      expect(e.files.map((f) => [f.name, f.mime])).toEqual([['stories260K-f32.gguf', 'application/octet-stream']]);
      const g = loadGguf(bytesOf(e, 'stories260K-f32.gguf'));
      expect(g.file.kv.get('general.name')?.value).toBe('stories260K');
      expect(await logits(g.model)).toEqual(await logits(parseLlama2c(MODEL)));
      // the GGUF's own vocabulary is the loaded tokenizer's
      const tok = Tokenizer.fromLlama2c(g.tokenizerBytes, 512);
      expect(tok.encode('Once upon a time', { bos: true, eos: false })).toEqual(
        Tokenizer.fromLlama2c(TOK, 512).encode('Once upon a time', { bos: true, eos: false }),
      );

      const q8 = await c.exportModel('base', 'gguf-q8_0');
      const b = bytesOf(q8, 'stories260K-q8_0.gguf');
      expect(new DataView(b.buffer).getUint32(0, true)).toBe(GGUF_MAGIC);
      expect(loadGguf(b).model.config).toMatchObject({ dim: 64, nLayers: 5, vocabSize: 512 });
    } finally {
      c.dispose();
    }
  });

  it('a q4 RTN variant as gptq-safetensors (3 files, bits 4) and as .nibble (bit-exact round trip)', async () => {
    const c = await client();
    try {
      const v = await c.quantize(RTN4, TEXT);
      expect(v.exportIssues).toEqual({});
      const g = await c.exportModel(v.id, 'gptq-safetensors');
      expect(g.files.map((f) => f.name)).toEqual(['model.safetensors', 'quantize_config.json', 'config.json']);
      expect(g.folder).toBe('stories260K-rtn-int4-g32');
      expect(text(g, 'quantize_config.json')).toMatchObject({
        bits: 4,
        group_size: 32,
        sym: false,
        checkpoint_format: 'gptq',
      });
      expect(text(g, 'config.json')).toMatchObject({ model_type: 'llama', quantization_config: { bits: 4 } });
      const st = parseSafetensors(bytesOf(g, 'model.safetensors'));
      expect(st.tensors.get('model.layers.0.self_attn.q_proj.qweight')).toMatchObject({ dtype: 'I32', shape: [8, 64] });

      const n = await c.exportModel(v.id, 'nibble');
      expect(n.files.map((f) => f.name)).toEqual(['stories260K-rtn-int4-g32.nibble']);
      const file = readNibbleFile(bytesOf(n, 'stories260K-rtn-int4-g32.nibble'));
      expect(file.label).toBe('rtn int4 g32');
      expect(file.tokenizer).toEqual(TOK);
      const ref = await quantizeModel(parseLlama2c(MODEL), RTN4);
      expectSameWeights(ref.model, file.model);
      expect(await logits(file.model)).toEqual(await logits(ref.model));
    } finally {
      c.dispose();
    }
  });

  it('a q4 RTN variant as hf-safetensors: an HF folder (fake-quant) the HF loader runs like the variant', async () => {
    const c = await client();
    try {
      const v = await c.quantize(RTN4, TEXT);
      const h = await c.exportModel(v.id, 'hf-safetensors');
      expect(h.files.map((f) => f.name)).toEqual([
        'config.json',
        'generation_config.json',
        'model.safetensors',
        'tokenizer.json',
        'tokenizer_config.json',
      ]);
      expect(h.folder).toBe('stories260K-rtn-int4-g32-hf');
      expect(text(h, 'config.json')).toMatchObject({
        architectures: ['LlamaForCausalLM'],
        nibble_source: { fake_quant: true, quantized_formats: ['q4'] },
      });
      const opened = await openHfFolder(
        memoryFolder(Object.fromEntries(h.files.map((f) => [f.name, new Uint8Array(f.bytes)]))),
      );
      const ref = await quantizeModel(parseLlama2c(MODEL), RTN4);
      const [a, b] = [await logits(opened.model), await logits(ref.model)];
      expect(a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0)).toBeLessThan(1e-4);
    } finally {
      c.dispose();
    }
  });

  it('refuses typed: fp32 as GPTQ (bad-argument, also in VariantInfo), unknown format or variant', async () => {
    const c = await client();
    try {
      const [base] = await c.listVariants();
      expect(Object.keys(base.exportIssues ?? {})).toEqual(['gptq-safetensors']);
      expect(base.exportIssues?.['gptq-safetensors']).toMatch(
        /layer 0 wq is f32; the GPTQ layout needs uniform-int linears/,
      );
      await expect(c.exportModel('base', 'gptq-safetensors')).rejects.toMatchObject({
        code: 'bad-argument',
        message: base.exportIssues?.['gptq-safetensors'],
      });
      await expect(c.exportModel('base', 'gguf-q2_k' as never)).rejects.toMatchObject({
        code: 'bad-argument',
        message: expect.stringMatching(/one of gguf-f32/),
      });
      await expect(c.exportModel('v9', 'nibble')).rejects.toMatchObject({
        code: 'bad-argument',
        message: expect.stringMatching(/no variant 'v9'/),
      });
      const nf4 = await c.quantize({ ...DEFAULT_SPEC, method: 'nf4', group: 64 }, TEXT);
      expect(nf4.exportIssues?.['gptq-safetensors']).toMatch(/is nf4/);
      await expect(c.exportModel(nf4.id, 'gptq-safetensors')).rejects.toMatchObject({ code: 'bad-argument' });
      expect((await c.exportModel(nf4.id, 'gguf-q4_0')).files).toHaveLength(1); // dequantized, then Q4_0
    } finally {
      c.dispose();
    }
  });

  it('a model with a tokenizer.json (HF folder): gguf-* unsupported with the reason, .nibble carries the HF tokenizer', async () => {
    const hf = hfFixtureFiles();
    const c = new EngineClient(inThreadTransport({}));
    try {
      await c.load({
        kind: 'files',
        name: 'stories260K-hf',
        files: Object.entries(hf).map(([path, b]) => ({ path, blob: new Blob([b.slice()]) })),
      });
      const [base] = await c.listVariants();
      expect(Object.keys(base.exportIssues ?? {}).sort()).toEqual([
        'gguf-f32',
        'gguf-q4_0',
        'gguf-q8_0',
        'gptq-safetensors',
      ]);
      await expect(c.exportModel('base', 'gguf-q8_0')).rejects.toMatchObject({
        code: 'unsupported',
        message: expect.stringMatching(/SentencePiece .*tokenizer\.json/),
      });
      const n = await c.exportModel('base', 'nibble');
      expect(n.files[0].name).toBe('stories260K-hf.nibble');
      const file = readNibbleFile(new Uint8Array(n.files[0].bytes));
      expect(file.tokenizerFiles).toMatchObject({ kind: 'hf', json: hf['tokenizer.json'] });
      // the same pure dispatch the CLI uses refuses it the same way
      const tokenizerFiles = { kind: 'hf' as const, json: hf['tokenizer.json'] };
      expect(() =>
        exportModelFiles({ model: file.model, modelName: 'x', label: 'fp32', tokenizerFiles }, 'gguf-f32'),
      ).toThrow(expect.objectContaining({ code: 'unsupported' }));
    } finally {
      c.dispose();
    }
  });
});

describe('the store’s exportModel action', () => {
  it('returns the worker’s files, one export at a time, and shows a typed error on the banner', async () => {
    const engine = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
    const store = createAppStore({
      engine,
      defaultSource: { kind: 'url', name: 'stories260K', modelUrl: '/m.bin', tokenizerUrl: '/t.bin' },
      text: TEXT,
    });
    try {
      await store.getState().loadDefaultModel();
      const job = store.getState().exportModel('base', 'nibble');
      expect(store.getState().variants.exporting).toEqual({ id: 'base', format: 'nibble' });
      expect(await store.getState().exportModel('base', 'gguf-f32')).toBeNull(); // busy
      const files = await job;
      expect(files?.files.map((f) => f.name)).toEqual(['stories260K.nibble']);
      expect(readNibbleFile(new Uint8Array(files!.files[0].bytes)).label).toBe('fp32');
      expect(store.getState().variants.exporting).toBeNull();
      expect(await store.getState().exportModel('base', 'gptq-safetensors')).toBeNull();
      expect(store.getState().error).toMatchObject({
        code: 'bad-argument',
        context: expect.stringMatching(/Exporting .* as gptq-safetensors/),
      });
    } finally {
      store.dispose();
    }
  });
});
