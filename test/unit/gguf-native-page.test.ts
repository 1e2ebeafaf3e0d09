// Quantized GGUF files in the page: Q8_0 / Q4_0 linears stay our q8 / q4 tensors (no f32 copy),
// the plan says so before loading, generation equals the CPU forward of the same native model,
// and the lab still quantizes and charts from the dequantized values ŵ of such a base.
import { describe, expect, it } from 'vitest';
import { loadGguf } from '../../src/core/formats/gguf/llama.ts';
import { vocabFromLlama2c } from '../../src/core/formats/gguf/vocab.ts';
import { writeGgufModel } from '../../src/core/formats/gguf/write.ts';
import { weightValues } from '../../src/core/model/linear.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { readNibbleFile } from '../../src/core/formats/nibble-file-read.ts';
import { LINEAR_NAMES } from '../../src/core/model/model.ts';
import { weightBytes } from '../../src/core/quant/format.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';
import { DEFAULT_SPEC } from '../../src/core/quant/quant-spec.ts';
import { quantizeLinear } from '../../src/engine/quant/quantize-linear.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import type { SamplingSettings } from '../../src/worker/engine-host/protocol.ts';
import { stories260K, tok512 } from './helpers.ts';

const GREEDY: SamplingSettings = { temperature: 0, topP: 1, maxTokens: 24, seed: 1 };
const model = parseLlama2c(stories260K());
const vocab = vocabFromLlama2c(tok512(), model.config.vocabSize);

describe('quantized GGUF in the page', () => {
  for (const [format, tag] of [
    ['gguf-q8_0', 'q8'],
    ['gguf-q4_0', 'q4'],
  ] as const) {
    it(`${format}: linears stay ${tag} from plan to runner; text = the native model's; the lab quantizes from ŵ`, async () => {
      const bytes = writeGgufModel(model, vocab, format);
      const native = loadGguf(bytes, { weights: 'native' });
      expect(native.model.weights.layers[0].wq.format).toBe(tag);
      const c = new EngineClient(inThreadTransport({}));
      try {
        const source = {
          kind: 'files' as const,
          name: `stories-${tag}.gguf`,
          files: [{ path: `stories-${tag}.gguf`, blob: new Blob([bytes.slice()]) }],
        };
        const plan = await c.inspect(source);
        // w2 has 172 columns, not whole Q blocks: the writer stores it F16, and it loads as f16.
        const linears = native.model.weights.layers.flatMap((l) => LINEAR_NAMES.map((n) => l[n]));
        const linearBytes = linears.reduce((n, t) => n + weightBytes(t), 0);
        expect(plan.memory.weightBytesByFormat[tag]).toBe(
          linears.filter((t) => t.format === tag).reduce((n, t) => n + weightBytes(t), 0),
        );
        expect(linears.filter((t) => t.format === tag)).toHaveLength(6 * 5);
        await c.load(source);
        const want = await generate(createCpuRunner(native.model), native.tokenizer, '', {
          maxTokens: 24,
          temperature: 0,
          topP: 1,
          seed: 1,
        });
        expect((await c.generate('', GREEDY)).tokens).toEqual(want.tokens);
        const [base] = await c.listVariants();
        expect(base).toMatchObject({ id: 'base', label: `as loaded (${tag}, f16)` }); // w2 is f16 (see above)
        expect(native.model.weights.layers.map((l) => l.w2.format)).toEqual(Array(5).fill('f16'));
        expect(base.linearBytes).toBe(linearBytes);
        // Quantizing a quantized base reads its dequantized values; charts do too.
        const spec = { ...DEFAULT_SPEC, method: 'rtn' as const, bits: 4, group: 32 };
        const v = await c.quantize(spec, { calib: '/c', eval: '/e' });
        const saved = readNibbleFile(new Uint8Array((await c.exportModel(v.id, 'nibble')).files[0].bytes)).model;
        const wq = native.model.weights.layers[0].wq;
        expect(saved.weights.layers[0].wq).toEqual(quantizeLinear(weightValues(wq, 'wq'), spec));
        const h = await c.weightHistogram({
          layer: 0,
          linear: 'wq',
          bins: 16,
          row: 0,
          group: 0,
          spec: { ...DEFAULT_SPEC, method: 'rtn', bits: 4, group: 32 },
        });
        expect(h.counts.reduce((a: number, b: number) => a + b, 0)).toBe(
          native.model.weights.layers[0].wq.shape[0] * native.model.weights.layers[0].wq.shape[1],
        );
      } finally {
        c.dispose();
      }
    });
  }
});
