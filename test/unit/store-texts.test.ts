// The texts slice with the real engine (in-thread host, CPU): the chosen calibration and
// evaluation texts and window options reach the engine (GPTQ losses and perplexity equal the
// engine run directly on those windows), and bad input ends as a typed error in the banner.
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { DEFAULT_SPEC } from '../../src/core/quant/quant-spec.ts';
import { MAX_TEXT_BYTES, textChoiceWindows } from '../../src/core/text-source.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { quantizeModel } from '../../src/engine/quantize.ts';
import { createAppStore } from '../../src/state/store.ts';
import { windowsOf } from '../../src/state/texts-slice.ts';
import { applyHash, encodeHash } from '../../src/state/url-hash.ts';
import { EngineClient } from '../../src/worker/engine-host/client.ts';
import { inThreadTransport } from '../../src/worker/engine-host/in-thread.ts';
import { storiesFiles, STORIES_SOURCE as SOURCE, readProjectFile as read } from './helpers.ts';

const FILES = storiesFiles();

// Own copies: the engine owns the bytes it is given.
const model = parseLlama2c(read('public/models/stories260K.bin'));
const tok = Tokenizer.fromLlama2c(read('public/models/tok512.bin'), model.config.vocabSize);
const evalLines = new TextDecoder().decode(FILES['/eval.txt']).split('\n');
const PASTED_EVAL = evalLines.slice(3, 6).join('\n');
const PASTED_CALIB = evalLines.slice(0, 3).join('\n');

function realStore() {
  const engine = new EngineClient(inThreadTransport({ fetchBytes: async (u) => FILES[u] }));
  return createAppStore({ engine, defaultSource: SOURCE, text: { calib: '/calib.txt', eval: '/eval.txt' } });
}

describe('texts slice → engine', () => {
  it('evaluates and calibrates on the chosen texts with the chosen windows', async () => {
    const store = realStore();
    try {
      await store.getState().loadDefaultModel();
      const s = store.getState;
      expect(windowsOf(s(), 'eval')).toEqual({ windows: 64, length: 256 }); // stories260K's default

      s().setTextChoice('eval', { kind: 'pasted', pasted: PASTED_EVAL, windows: 3, length: 40 });
      await s().computeDrift('base');
      const want = await evaluate(
        createCpuRunner(model),
        textChoiceWindows(tok, PASTED_EVAL, { windows: 3, length: 40 }, 'eval', model.config.seqLen),
        null,
      );
      expect(s().charts.drift.base.data).toMatchObject({ windows: 3, tokens: 3 * 39, ppl: want.ppl });

      s().setTextChoice('calib', { kind: 'pasted', pasted: PASTED_CALIB, windows: 2, length: 48 });
      s().setQuantForm({ method: 'gptq', bits: 3, group: 32 });
      const info = await s().quantize();
      const direct = await quantizeModel(
        model,
        { ...DEFAULT_SPEC, method: 'gptq', bits: 3, group: 32 },
        { calibration: textChoiceWindows(tok, PASTED_CALIB, { windows: 2, length: 48 }, 'c', model.config.seqLen) },
      );
      expect(info!.report!.layers.map((l) => l.gptqLoss)).toEqual(direct.report.layers.map((l) => l.gptqLoss));

      // A new evaluation text drops the results computed on the old one.
      s().setTextChoice('eval', { length: 32 });
      expect(s().charts.drift).toEqual({});
      // The evaluation window count travels in the URL hash.
      expect(encodeHash(s())).toContain('ew=3');
      applyHash(store, 'ew=5');
      expect(s().texts.eval.windows).toBe(5);
    } finally {
      store.dispose();
    }
  });

  it('bad texts end as typed errors in the banner; nothing runs', async () => {
    const store = realStore();
    const s = store.getState;
    try {
      await s().loadDefaultModel();
      s().setTextChoice('calib', { kind: 'pasted', pasted: '   ' });
      s().setQuantForm({ method: 'smoothquant' });
      expect(await s().quantize()).toBeNull();
      expect(s().error).toMatchObject({ code: 'bad-argument', message: 'the calibration text (pasted) is empty' });

      s().setTextChoice('calib', { pasted: 'Tom ran.', windows: 2, length: 64 });
      expect(await s().quantize()).toBeNull();
      expect(s().error?.message).toMatch(/^the calibration text \(pasted\) is shorter than one window of 64 tokens/);

      s().setTextChoice('eval', { kind: 'file' });
      await s().computeDrift('base');
      expect(s().error).toMatchObject({ code: 'bad-argument', message: expect.stringMatching(/no file chosen/) });

      const binary = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 13])]);
      expect(await s().chooseTextFile('eval', Object.assign(binary, { name: 'cat.png' }))).toBe(false);
      expect(s().error).toMatchObject({ code: 'bad-format', context: 'Reading cat.png as the evaluation text' });
      const huge = {
        name: 'huge.txt',
        size: MAX_TEXT_BYTES + 1,
        arrayBuffer: () => Promise.reject(new Error('must not be read')),
      };
      expect(await s().chooseTextFile('eval', huge)).toBe(false);
      expect(s().error).toMatchObject({ code: 'over-limit', message: expect.stringMatching(/^huge\.txt is 16\.0 MB/) });
      const ok = new Blob([PASTED_EVAL]);
      expect(await s().chooseTextFile('eval', Object.assign(ok, { name: 'story.txt' }))).toBe(true);
      expect(s().texts.eval).toMatchObject({ kind: 'file', file: { name: 'story.txt', text: PASTED_EVAL } });
      expect(s().variants.list).toHaveLength(1); // only fp32: no variant was made
    } finally {
      store.dispose();
    }
  });
});
