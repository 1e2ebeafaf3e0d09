// The playground's protocol (lab-protocol.ts) through the real host on the CPU: quantized
// variants held side by side, chart statistics checked against the core functions the CLI
// uses, drift, truncation points, A/B generation, .nibble export/import and cancellation.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { textWindows } from '../../src/core/model/metrics.ts';
import { codeHistogram } from '../../src/core/quant/histogram.ts';
import { quantizeTensor } from '../../src/core/quant/quantize-tensor.ts';
import { type F32Tensor, type UniformQuantTensor } from '../../src/core/tensor.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { DEFAULT_SPEC, type QuantSpec, type TextSources } from '../../src/worker/engine-host/lab-protocol.ts';
import { binCounts } from '../../src/engine/lab/lab-stats.ts';
import type { SamplingSettings } from '../../src/worker/engine-host/protocol.ts';

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const MODEL = read('public/models/stories260K.bin');
const TOK = read('public/models/tok512.bin');
const FILES: Record<string, Uint8Array> = {
  '/calib.txt': read('public/data/tinystories-calib.txt'),
  '/eval.txt': read('public/data/tinystories-eval.txt'),
};
const TEXT: TextSources = { calib: '/calib.txt', eval: '/eval.txt' };
const RTN4: QuantSpec = { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 };
const GREEDY: SamplingSettings = { temperature: 0, topP: 1, maxTokens: 24, seed: 1 };

async function client() {
  const c = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
  await c.load({ kind: 'bytes', name: 'stories260K', model: MODEL.slice().buffer, tokenizer: TOK.slice().buffer });
  return c;
}

const reference = () => {
  const model = parseLlama2c(MODEL);
  return { model, tok: Tokenizer.fromLlama2c(TOK, model.config.vocabSize) };
};

describe('lab requests on the CPU host', () => {
  it('quantizes into a variant held beside the fp32 model, with stage progress', async () => {
    const c = await client();
    try {
      const seen: string[] = [];
      const v = await c.quantize(RTN4, TEXT, { onProgress: (p) => seen.push(`${p.stage}:${p.layer}`) });
      expect(v).toMatchObject({ id: 'v1', label: 'rtn int4 g32', origin: 'quantized', baseModel: 'stories260K' });
      const { report } = await quantizeModel(reference().model, RTN4);
      expect(v.linearBytes).toBe(report.linearBytes);
      expect(v.bitsPerWeight).toBeCloseTo(report.bitsPerWeight, 9);
      expect(seen).toEqual(['quantize:0', 'quantize:1', 'quantize:2', 'quantize:3', 'quantize:4']);
      const list = await c.listVariants();
      expect(list.map((x) => x.id)).toEqual(['base', 'v1']);
      expect(list[0]).toMatchObject({ label: 'fp32', bitsPerWeight: 32, nominalBits: 32 });
      expect(await c.deleteVariant('v1')).toEqual({ deleted: true });
      expect((await c.listVariants()).map((x) => x.id)).toEqual(['base']);
    } finally {
      c.dispose();
    }
  });

  it('GPTQ reports its loss per linear as it goes; Cancel stops a quantization', async () => {
    const c = await client();
    try {
      const losses: number[] = [];
      const ctrl = new AbortController();
      const job = c.quantize({ ...RTN4, method: 'gptq' }, TEXT, {
        signal: ctrl.signal,
        onProgress: (p) => {
          if (p.gptqLoss !== undefined) losses.push(p.gptqLoss);
          if (losses.length === 3) ctrl.abort();
        },
      });
      await expect(job).rejects.toMatchObject({ code: 'cancelled' });
      expect(losses.length).toBeGreaterThanOrEqual(3);
      expect(losses.every((l) => l > 0)).toBe(true);
      expect((await c.listVariants()).map((x) => x.id)).toEqual(['base']);
    } finally {
      c.dispose();
    }
  });

  it('histogram bins and collision counts equal the core functions for layers.0.wq', async () => {
    const c = await client();
    try {
      const w = reference().model.weights.layers[0].wq as F32Tensor;
      const h = await c.weightHistogram({ layer: 0, linear: 'wq', spec: RTN4, bins: 40, row: 2, group: 1 });
      const min = Math.min(...w.data);
      const max = Math.max(...w.data);
      expect([h.min, h.max]).toEqual([min, max]);
      expect(h.counts).toEqual(binCounts(w.data, min, max, 40));
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(w.data.length);
      expect(h.groupCounts.reduce((a, b) => a + b, 0)).toBe(32);
      expect(h.grid).toHaveLength(16);
      expect(h).toMatchObject({ row: 2, group: 1, nGroups: 2, groupSize: 32 });

      const r = await c.collisions({
        layer: 0,
        linear: 'wq',
        bits: [4, 2],
        granularities: [{ granularity: 'group', group: 32 }, { granularity: 'row' }],
        sym: true,
      });
      expect(r.backend).toBe('cpu');
      expect(r.rows.map((x) => x.label)).toEqual(['int4 g32', 'int4 per-row', 'int2 g32', 'int2 per-row']);
      const t = quantizeTensor(w, { format: 'q4', granularity: 'group', group: 32, sym: true }) as UniformQuantTensor;
      const ref = codeHistogram(t, w.data);
      expect(r.rows[0].counts).toEqual([...ref.counts]);
      expect([r.rows[0].clippedLow, r.rows[0].clippedHigh]).toEqual([ref.clippedLow, ref.clippedHigh]);
      expect(r.rows[0].total).toBe(w.data.length);
      expect(r.rows[0].clippedHigh).toBeGreaterThan(0); // symmetric grids clip the largest positive weight
      expect(r.rows[2].unusedShare).toBeLessThanOrEqual(r.rows[0].unusedShare + 1);
    } finally {
      c.dispose();
    }
  });

  it('outlier maxima, drift vs fp32 and a truncation point agree with direct computations', async () => {
    const c = await client();
    try {
      const o = await c.outliers({ threshold: 1, text: TEXT, windows: 2 });
      expect(o.windows).toBe(2);
      expect(o.sites.attn.layers).toHaveLength(5);
      expect(o.sites.w2.width).toBe(172);
      const l0 = o.sites.attn.layers[0];
      expect(l0.over).toEqual(l0.absMax.flatMap((v, i) => (v >= 1 ? [i] : [])));

      const v = await c.quantize(RTN4, TEXT);
      const d = await c.drift({ variant: v.id, text: TEXT, windows: 2 });
      const { model, tok } = reference();
      const windows = textWindows(tok, new TextDecoder().decode(FILES['/eval.txt']), 256).slice(0, 2);
      const q = await quantizeModel(model, RTN4);
      const want = await evaluate(createCpuRunner(q.model), windows, createCpuRunner(model));
      expect(d.ppl).toBeCloseTo(want.ppl, 6);
      expect(d.top1).toBeCloseTo(want.top1Agreement!, 9);
      expect(d.sqnrDb).toHaveLength(5);
      const base = await c.drift({ variant: 'base', text: TEXT, windows: 2 });
      expect(base.klMean).toBeNull();

      const full = await c.truncationPoint({
        k: 23,
        mode: 'truncate',
        text: TEXT,
        windows: 1,
        prompt: 'Once upon a time',
        sampleTokens: 12,
      });
      expect(full).toMatchObject({ top1: 1, klMean: 0, windows: 1 });
      const low = await c.truncationPoint({
        k: 0,
        mode: 'rne',
        text: TEXT,
        windows: 1,
        prompt: 'Once upon a time',
        sampleTokens: 12,
      });
      expect(low.top1).toBeLessThan(1);
      expect(low.ppl).toBeGreaterThan(full.ppl);
      expect(low.sample.length).toBeGreaterThan(0);
    } finally {
      c.dispose();
    }
  });

  it('A/B streams both sides of the same prompt; export → import gives back the same variant', async () => {
    const c = await client();
    try {
      const v = await c.quantize({ ...RTN4, bits: 2 }, TEXT);
      const streamed: [string, string] = ['', ''];
      const { results } = await c.generatePair('Once upon a time', GREEDY, ['base', v.id], {
        onToken: (s, t) => (streamed[s] += t.text),
      });
      expect(results.map((r) => r.variant)).toEqual(['base', v.id]);
      expect(streamed).toEqual([results[0].text, results[1].text]);
      const alone = await c.generate('Once upon a time', GREEDY);
      expect(results[0].text).toBe(alone.text);
      await expect(c.generatePair('', GREEDY, ['base', 'base'])).rejects.toMatchObject({ code: 'bad-argument' });

      const { bytes, meta } = await c.exportVariant(v.id);
      expect(meta).toMatchObject({ label: 'rtn int2 g32', baseModel: 'stories260K' });
      const head = bytes.slice(0, 100);
      const back = await c.importVariant(bytes, meta);
      expect(bytes.byteLength).toBe(0); // transferred to the engine
      expect(back).toMatchObject({ id: 'v2', origin: 'imported', label: 'rtn int2 g32', linearBytes: v.linearBytes });
      const again = await c.generate('Once upon a time', GREEDY, { variant: back.id });
      expect(again.text).toBe(results[1].text);
      await expect(c.importVariant(head)).rejects.toMatchObject({ name: 'EngineError' });
    } finally {
      c.dispose();
    }
  });
});
