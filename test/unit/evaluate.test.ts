// The evaluator's perplexity equals an independent token-by-token computation with the CPU
// forward pass; drift of a model against itself is exactly zero.
import { describe, expect, it } from 'vitest';
import { CpuForward } from '../../src/core/model/forward.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { logSoftmax, percentile, sqnrDb, textWindows } from '../../src/core/model/metrics.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { readProjectFile, stories260K, tok512 } from './helpers.ts';

const model = parseLlama2c(stories260K());
const tok = Tokenizer.fromLlama2c(tok512(), 512);
const evalText = new TextDecoder().decode(readProjectFile('public/data/tinystories-eval.txt'));

describe('evaluation protocol', () => {
  it('cuts the eval text into windows of seq tokens (BOS per line, remainder dropped)', () => {
    const lines = evalText.split('\n').filter((l) => l.trim());
    const total = lines.reduce((n, l) => n + tok.encode(l, { bos: true, eos: false }).length, 0);
    // HF's tokenizers library encodes the same text to the same 6,222 tokens (shared/README.md).
    expect(total).toBe(6222);
    const w = textWindows(tok, evalText, 256);
    expect(w.length).toBe(Math.floor(total / 256));
    expect(w[0][0]).toBe(1);
    expect(w.every((x) => x.length === 256)).toBe(true);
  });

  it('perplexity equals a token-by-token computation with the CPU forward pass', async () => {
    const windows = textWindows(tok, evalText, 64).slice(0, 3);
    let nll = 0;
    let n = 0;
    for (const w of windows) {
      const f = new CpuForward(model);
      for (let t = 0; t < w.length - 1; t++) {
        const logits = f.forward([w[t]], t);
        nll -= logSoftmax(logits, 0, 512)[w[t + 1]];
        n++;
      }
    }
    const report = await evaluate(createCpuRunner(model), windows, null);
    expect(report.tokens).toBe(n);
    expect(report.ppl).toBeCloseTo(Math.exp(nll / n), 6);
    expect(report.klMean).toBeNull();
  });

  it('a model against itself has zero drift', async () => {
    const windows = textWindows(tok, evalText, 128).slice(0, 2);
    const r = await evaluate(createCpuRunner(model), windows, createCpuRunner(model));
    expect(r.klMean).toBe(0);
    expect(r.top1Agreement).toBe(1);
    expect(r.layers.map((l) => l.sqnrDb)).toEqual(new Array(5).fill(Infinity));
  });

  it('metric helpers follow their formulas', () => {
    expect(sqnrDb([3, 4], [3, 3])).toBeCloseTo(20 * Math.log10(5 / 1), 12);
    expect(percentile([1, 2, 3, 4, 5], 50)).toBe(3);
    expect(percentile([0, 10], 99)).toBeCloseTo(9.9, 12);
  });
});
