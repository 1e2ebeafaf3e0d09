// Golden: greedy decoding from BOS with an empty prompt, 200 steps, must print exactly what
// llama2.c's run.c prints for stories260K (test/fixtures/golden-stories260K.txt).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));

describe('golden generation on the CPU backend', () => {
  it('reproduces llama2.c run.c -t 0 -n 200 byte for byte', async () => {
    const model = parseLlama2c(read('public/models/stories260K.bin'));
    const tok = Tokenizer.fromLlama2c(read('public/models/tok512.bin'), model.config.vocabSize);
    const golden = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8');
    const res = await generate(createCpuRunner(model), tok, '', { maxTokens: 200, temperature: 0, topP: 1, seed: 1 });
    expect(res.tokens.length).toBe(200);
    expect(res.text).toBe(golden.replace(/\n$/, ''));
  });
});

describe('a context the machine cannot hold', () => {
  it('is a typed too-large error naming the KV cache, not a RangeError', () => {
    const model = parseLlama2c(
      new Uint8Array(readFileSync(new URL('../../public/models/stories260K.bin', import.meta.url))),
    );
    const huge = { ...model, config: { ...model.config, seqLen: 2 ** 30 } }; // 2^35 floats per layer
    expect(() => createCpuRunner(huge)).toThrow(
      expect.objectContaining({
        name: 'NibbleError',
        code: 'too-large',
        message: expect.stringMatching(/KV cache for 1073741824 positions needs 1280\.0 GiB/),
      }),
    );
  });
});
