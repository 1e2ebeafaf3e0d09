// nibble eval / quantize in-process on the CPU backend: the JSON fields, fp32 perplexity equal
// to the evaluator on the same windows, .nibble files that generate loads back, and exit 2
// with a clear message for bad flags.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { textWindows } from '../../src/core/model/metrics.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { evaluate } from '../../src/engine/evaluate.ts';
import { args, runCli } from './cli-run.ts';

const root = new URL('../../', import.meta.url);
const p = (rel: string) => new URL(rel, root).pathname;
const MODEL = p('public/models/stories260K.bin');
const TOK = p('public/models/tok512.bin');
// Two stories keep the CPU runs short; the protocol is the same for the whole file.
const dir = mkdtempSync(join(tmpdir(), 'nibble-cliq-'));
const EVAL = join(dir, 'eval-2-stories.txt');
writeFileSync(EVAL, readFileSync(p('public/data/tinystories-eval.txt'), 'utf8').split('\n').slice(0, 2).join('\n'));
const CALIB = join(dir, 'calib-3-stories.txt');
writeFileSync(CALIB, readFileSync(p('public/data/tinystories-calib.txt'), 'utf8').split('\n').slice(0, 3).join('\n'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;
const base = ['--model', MODEL, '--tokenizer', TOK, '--backend', 'cpu'];

describe('nibble eval', () => {
  it('fp32 perplexity equals the evaluator on the same windows', async () => {
    const r = await run(['eval', ...base, '--text', EVAL, '--seq', '128', '--method', 'fp32', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const model = parseLlama2c(new Uint8Array(readFileSync(MODEL)));
    const tok = Tokenizer.fromLlama2c(new Uint8Array(readFileSync(TOK)), 512);
    const windows = textWindows(tok, readFileSync(EVAL, 'utf8'), 128);
    const ref = await evaluate(createCpuRunner(model), windows, null);
    expect(j.ppl).toBeCloseTo(ref.ppl, 9);
    expect(j).toMatchObject({
      tokens: windows.length * 127,
      windows: windows.length,
      kl_mean: 0,
      top1_agreement: 1,
      bits_per_weight: 32,
    });
  });

  it('reports drift, bytes and per-layer fields for a quantized variant', async () => {
    const r = await run([
      'eval',
      ...base,
      '--text',
      EVAL,
      ...args('--seq 128 --method rtn --bits 4 --group 32 --json'),
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const k of [
      'ppl',
      'tokens',
      'windows',
      'kl_mean',
      'kl_p99',
      'top1_agreement',
      'weight_bytes',
      'bits_per_weight',
      'layers',
      'seconds',
    ])
      expect(j).toHaveProperty(k);
    expect(j.kl_mean).toBeGreaterThan(0);
    expect(j.top1_agreement).toBeGreaterThan(0.5);
    expect(j.bits_per_weight).toBeGreaterThan(4);
    expect(j.bits_per_weight).toBeLessThan(6);
    expect(j.layers).toHaveLength(5);
    expect(j.layers[0].sqnr_db).toBeGreaterThan(5);
  });

  it.each([
    [['--method', 'rtn', '--bits', '0'], /--bits must be a whole number in 2..8/],
    [['--method', 'rtn', '--bits', '4', '--group', '48'], /--group 48 does not divide the input width .*172/],
    [['--method', 'gptq'], /needs calibration text: add --calib FILE/],
    [['--method', 'banana'], /--method must be one of/],
    [['--method', 'trunc', '--mantissa-bits', '24'], /--mantissa-bits must be a whole number in 0..23/],
  ])('exits 2 for bad flags %j', async (flags, message) => {
    const r = await run(['eval', ...base, '--text', EVAL, ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('nibble quantize', () => {
  it('writes a .nibble file that generate loads without --tokenizer, same text as the in-memory variant', async () => {
    const out = join(dir, 'q4.nibble');
    const q = await run([
      'quantize',
      '--model',
      MODEL,
      '--tokenizer',
      TOK,
      ...args('--method rtn --bits 4 --group 32 --out'),
      out,
    ]);
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/wrote .*q4\.nibble: rtn int4 g32/);
    const g = await run(['generate', '--model', out, '--backend', 'cpu', '--temperature', '0', '--steps', '30']);
    expect(g.code).toBe(0);
    const e = await run([
      'eval',
      '--model',
      out,
      ...args('--backend cpu --text'),
      EVAL,
      ...args('--seq 128 --method fp32 --json'),
    ]);
    const viaFlags = await run([
      'eval',
      ...base,
      '--text',
      EVAL,
      ...args('--seq 128 --method rtn --bits 4 --group 32 --json'),
    ]);
    expect(JSON.parse(e.stdout).ppl).toBe(JSON.parse(viaFlags.stdout).ppl); // bit-exact reload
    expect(g.stdout.length).toBeGreaterThan(20);
  });

  it('gptq with calibration writes per-linear losses', async () => {
    const r = await run([
      'eval',
      ...base,
      '--text',
      EVAL,
      '--calib',
      CALIB,
      ...args('--seq 256 --method gptq --bits 4 --group 0 --json'),
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.layers[0].gptq_loss).toBeGreaterThan(0);
    expect(Object.keys(j.layers[0].gptq_loss_per_linear)).toEqual(['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3']);
  }, 120_000);
});

describe('nibble with a Hugging Face folder', () => {
  it('loads the transformers-written folder (no --tokenizer) and greedy-decodes the golden text', async () => {
    const golden = readFileSync(p('test/fixtures/golden-stories260K.txt'), 'utf8').replace(/\n$/, '');
    const r = await run([
      'generate',
      '--model',
      p('test/fixtures/stories260K-hf'),
      ...args('--backend cpu --temperature 0 --steps 200'),
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${golden}\n`);
  });

  it('quantizes it to a .nibble file that carries the HF tokenizer', async () => {
    const out = join(dir, 'hf-q8.nibble');
    const q = await run([
      'quantize',
      '--model',
      p('test/fixtures/stories260K-hf'),
      ...args('--method rtn --bits 8 --group 0 --out'),
      out,
      '--backend',
      'cpu',
    ]);
    expect(q.code).toBe(0);
    const g = await run(['generate', '--model', out, '--backend', 'cpu', '--temperature', '0', '--steps', '20']);
    expect(g.code).toBe(0);
    expect(g.stdout.startsWith('Once upon a time')).toBe(true);
  });
});
