// Golden on the GPU: greedy decoding of stories260K from BOS with an empty prompt, 200
// tokens, must print exactly what llama2.c's run.c prints (test/fixtures/golden-stories260K.txt,
// stored without a trailing newline; run.c's final "\n" is not part of the text), with
// both GEMV variants. Token ids are also checked against the CPU backend so that a failure
// says where the two first diverge.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import type { LlamaModel } from '../../src/core/model/model.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate, type GenerateOptions } from '../../src/engine/generate.ts';
import { createGpuRunner } from '../../src/engine/gpu-runner.ts';
import type { ModelRunner } from '../../src/engine/runner.ts';
import { gpuContext } from './setup-device.ts';

const read = (p: string) => new Uint8Array(readFileSync(new URL(`../../${p}`, import.meta.url)));
const GREEDY: GenerateOptions = { maxTokens: 200, temperature: 0, topP: 1, seed: 0 };

let model: LlamaModel;
let tok: Tokenizer;
let golden: string;
let cpuTokens: number[];
const runners: ModelRunner[] = [];

beforeAll(async () => {
  model = parseLlama2c(read('public/models/stories260K.bin'));
  tok = Tokenizer.fromLlama2c(read('public/models/tok512.bin'), model.config.vocabSize);
  golden = readFileSync(new URL('../fixtures/golden-stories260K.txt', import.meta.url), 'utf8').replace(/\n$/, '');
  cpuTokens = (await generate(createCpuRunner(model), tok, '', GREEDY)).tokens;
});
afterAll(() => runners.forEach((r) => r.dispose()));

describe.each([
  ['subgroup', {}],
  ['workgroup', { disableSubgroups: true }],
] as const)('stories260K golden on WebGPU (%s reductions)', (_name, opts) => {
  it('reproduces llama2.c run.c -t 0 -n 200 byte for byte', async () => {
    const runner = await createGpuRunner(await gpuContext(opts), model);
    runners.push(runner);
    const res = await generate(runner, tok, '', GREEDY);
    const diverge = res.tokens.findIndex((t, i) => t !== cpuTokens[i]);
    expect(diverge, `first token that differs from the CPU backend`).toBe(-1);
    expect(res.tokens.length).toBe(200);
    expect(res.text).toBe(golden);
    // one submit per step: the prefill (BOS) + 199 decode steps
    expect(runner.counters.submits).toBe(200);
    expect(runner.counters.dispatches).toBe(200 * (6 * model.config.nLayers + 3));
  });
});
