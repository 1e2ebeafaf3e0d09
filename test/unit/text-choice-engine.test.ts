// The engine on the user's text: GPTQ calibrated on another text quantizes differently, and
// evaluate() on pasted text gives the perplexity written here from its definition,
// exp(mean over windows and positions of −log softmax(logits_t)[token_{t+1}]), with the CPU
// runner's logits over the same windows (tokenized here line by line with BOS, as evaluation.md says).
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { textChoiceWindows } from '../../src/core/text-source.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { DEFAULT_SPEC, type QuantSpec } from '../../src/core/quant/quant-spec.ts';
import { LINEAR_NAMES } from '../../src/core/model/model.ts';
import type { UniformQuantTensor } from '../../src/core/tensor.ts';
import { readProjectFile, stories260K, tok512 } from './helpers.ts';

const model = parseLlama2c(stories260K());
const tok = Tokenizer.fromLlama2c(tok512(), model.config.vocabSize);
const lines = (p: string) => new TextDecoder().decode(readProjectFile(p)).split('\n');
const calibA = lines('public/data/tinystories-calib.txt').slice(0, 6).join('\n');
const calibB = lines('public/data/tinystories-eval.txt').slice(0, 6).join('\n');
const PASTED =
  'The little robot found a blue stone by the river. It picked up the stone and showed it to the duck.\n' +
  'The duck said: "That stone is pretty! Can I keep it?" The robot smiled and gave it to the duck.\n' +
  'Then they walked home together under the big yellow sun, and they were happy all day long.';

/** The independent reference: windows by hand, logits from the CPU runner, NLL in float64. */
async function pplByDefinition(text: string, windows: number, length: number): Promise<{ ppl: number; n: number }> {
  const stream: number[] = [];
  for (const line of text.split('\n')) if (line.trim()) stream.push(...tok.encode(line, { bos: true, eos: false }));
  const runner = createCpuRunner(model);
  const V = model.config.vocabSize;
  let nll = 0;
  let n = 0;
  for (let w = 0; w < windows && (w + 1) * length <= stream.length; w++) {
    const ids = stream.slice(w * length, (w + 1) * length);
    const { logits } = await runner.logitsAll(ids);
    for (let t = 0; t + 1 < length; t++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[t * V + v] - max);
      nll += max + Math.log(z) - logits[t * V + ids[t + 1]];
      n++;
    }
  }
  runner.dispose();
  return { ppl: Math.exp(nll / n), n };
}

describe('calibration and evaluation on the chosen text', () => {
  it('evaluate() on pasted text equals the perplexity by definition over the same windows', async () => {
    const opts = { windows: 3, length: 32 };
    const ws = textChoiceWindows(tok, PASTED, opts, 'the pasted text', model.config.seqLen);
    expect(ws.length).toBe(3);
    const got = await evaluate(createCpuRunner(model), ws, null);
    const want = await pplByDefinition(PASTED, opts.windows, opts.length);
    expect(got.tokens).toBe(want.n);
    expect(got.tokens).toBe(3 * 31);
    expect(Math.abs(got.ppl - want.ppl)).toBeLessThanOrEqual(1e-9 * want.ppl);
  });

  it('GPTQ calibrated on another text gives other codes and losses', async () => {
    const spec: QuantSpec = { ...DEFAULT_SPEC, method: 'gptq', bits: 3, group: 32 };
    const opts = { windows: 2, length: 48 };
    const run = (t: string) =>
      quantizeModel(model, spec, {
        calibration: textChoiceWindows(tok, t, opts, 'calib', model.config.seqLen),
      });
    const a = await run(calibA);
    const a2 = await run(calibA);
    const b = await run(calibB);
    // Every packed code word of every linear, layer after layer.
    const codes = (m: typeof a.model) =>
      m.weights.layers.flatMap((l) => LINEAR_NAMES.flatMap((n) => [...(l[n] as UniformQuantTensor).buffers.data]));
    const differing = (x: number[], y: number[]) => x.reduce((n, v, i) => n + (v !== y[i] ? 1 : 0), 0);
    expect(differing(codes(a2.model), codes(a.model))).toBe(0); // deterministic on one text
    expect(differing(codes(b.model), codes(a.model))).toBeGreaterThan(0);
    const lossA = a.report.layers.map((l) => l.gptqLoss);
    const lossB = b.report.layers.map((l) => l.gptqLoss);
    expect(lossB).not.toEqual(lossA);
  });
});
