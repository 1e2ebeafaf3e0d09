// The CLI called in-process: main(argv, io) with captured streams, the CPU backend, and bad
// inputs made here from the real embedded files (text file, truncated checkpoint, absurd
// header dims, a tokenizer for another vocabulary).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/main.ts';
import { NibbleError } from '../../src/core/errors.ts';
import { parseLlama2c } from '../../src/core/formats/llama2c.ts';
import { Tokenizer } from '../../src/core/tokenizers/llama2c-tokenizer.ts';
import { createCpuRunner } from '../../src/engine/cpu-runner.ts';
import { generate } from '../../src/engine/generate.ts';
import { args, runCli } from './cli-run.ts';

const root = new URL('../../', import.meta.url);
const MODEL_PATH = new URL('public/models/stories260K.bin', root).pathname;
const TOK_PATH = new URL('public/models/tok512.bin', root).pathname;
const MODEL = new Uint8Array(readFileSync(MODEL_PATH));
const TOK = new Uint8Array(readFileSync(TOK_PATH));
const GOLDEN = readFileSync(new URL('test/fixtures/golden-stories260K.txt', root), 'utf8');

const dir = mkdtempSync(join(tmpdir(), 'nibble-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = (name: string, bytes: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

/** A llama2.c v1 header ("ak42", version 1) with the given 7 dims; no body needed to fail. */
function v1Header(dims: number[]): Uint8Array {
  const b = new Uint8Array(256);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x616b3432, true);
  v.setInt32(4, 1, true);
  dims.forEach((d, i) => v.setInt32(8 + 4 * i, d, true));
  v.setUint8(36, 1);
  return b;
}

const run = runCli;

const gen = (model: string, tok: string, ...more: string[]) => [
  'generate',
  '--model',
  model,
  '--tokenizer',
  tok,
  '--backend',
  'cpu',
  ...more,
];

async function reference(prompt: string, maxTokens: number, temperature: number, seed: number) {
  const model = parseLlama2c(MODEL);
  const tok = Tokenizer.fromLlama2c(TOK, model.config.vocabSize);
  return (await generate(createCpuRunner(model), tok, prompt, { maxTokens, temperature, topP: 0.9, seed })).text;
}

describe('nibble generate (cpu)', () => {
  it('prints only the greedy text on stdout and statistics on stderr', async () => {
    const r = await run(gen(MODEL_PATH, TOK_PATH, '--temperature', '0', '--steps', '20'));
    expect(r.code).toBe(0);
    const expected = await reference('', 20, 0, 1);
    expect(GOLDEN.startsWith(expected)).toBe(true);
    expect(r.stdout).toBe(`${expected}\n`);
    expect(r.stderr).toMatch(/20 tokens, [\d.]+ tok\/s decode/);
    expect(r.stderr).toMatch(/backend cpu; seed \d+, temperature 0, top-p 0\.9/);
  });

  it('samples reproducibly from a prompt with a given seed (--opt=value form too)', async () => {
    const argv = gen(MODEL_PATH, TOK_PATH, '--prompt', 'Once upon a time', '--steps=30', '--seed=7', '--top-p', '0.9');
    const a = await run(argv);
    const b = await run(argv);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toBe(`${await reference('Once upon a time', 30, 0.8, 7)}\n`);
    expect(a.stderr).toMatch(/seed 7, temperature 0\.8/);
  });

  it('falls back to the CPU with a note when WebGPU is unavailable in auto mode', async () => {
    const openGpu = async () => {
      throw new NibbleError('no-webgpu', 'no adapter');
    };
    const args = ['generate', '--model', MODEL_PATH, '--tokenizer', TOK_PATH, '--steps', '3', '--temperature', '0'];
    const r = await run(args, { openGpu });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/WebGPU unavailable \(no adapter\); using the CPU backend/);
    const forced = await run([...args, '--backend', 'webgpu'], { openGpu });
    expect(forced.code).toBe(2);
    expect(forced.stderr).toMatch(/error \[no-webgpu\]: no adapter/);
    expect(forced.stdout).toBe('');
  });

  it('exits 1 on an unexpected failure, with the message on stderr', async () => {
    const r = await run(
      gen(MODEL_PATH, TOK_PATH).map((a) => (a === 'cpu' ? 'webgpu' : a)),
      {
        openGpu: async () => {
          throw new TypeError('boom');
        },
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/internal error: TypeError: boom/);
  });
});

describe('nibble generate: bad files exit 2 with a typed message', () => {
  const cases: [string, () => string[], RegExp][] = [
    [
      'a text file as the checkpoint',
      () => gen(fixture('notes.txt', 'Hello, this is not a model.\n'.repeat(20)), TOK_PATH),
      /error \[bad-format\]: not a llama2\.c checkpoint/,
    ],
    ['a tokenizer file as the checkpoint', () => gen(TOK_PATH, TOK_PATH), /error \[bad-format\]/],
    [
      'a truncated checkpoint',
      () => gen(fixture('cut.bin', MODEL.subarray(0, MODEL.byteLength >> 1)), TOK_PATH),
      /error \[truncated\]/,
    ],
    [
      'a header shorter than 28 bytes',
      () => gen(fixture('tiny.bin', MODEL.subarray(0, 12)), TOK_PATH),
      /error \[truncated\]/,
    ],
    [
      'a v1 header with absurd dims',
      () => gen(fixture('huge.bin', v1Header([1 << 30, 172, 5, 8, 4, 512, 512])), TOK_PATH),
      /error \[bad-dims\]: .*dim = 1073741824/,
    ],
    [
      'a v1 header with inconsistent heads',
      () => gen(fixture('heads.bin', v1Header([64, 172, 5, 8, 3, 512, 512])), TOK_PATH),
      /error \[bad-dims\]/,
    ],
    [
      'a tokenizer with fewer tokens than the vocab',
      () => gen(MODEL_PATH, fixture('tok-short.bin', TOK.subarray(0, 3000))),
      /error \[tokenizer-mismatch\]/,
    ],
    [
      'a tokenizer for a larger vocab',
      () => gen(MODEL_PATH, fixture('tok-long.bin', new Uint8Array([...TOK, ...TOK.subarray(4, 400)]))),
      /error \[tokenizer-mismatch\]/,
    ],
    [
      'a missing file',
      () => gen(join(dir, 'nope.bin'), TOK_PATH),
      /error \[bad-argument\]: cannot read --model .*no such file/,
    ],
  ];
  for (const [what, argv, message] of cases) {
    it(what, async () => {
      const r = await run(argv());
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // a message, not a stack trace
    });
  }
});

describe('nibble arguments', () => {
  it('prints help on stdout with exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['generate', '--help']]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^nibble — .*\n\nUsage:/);
      expect(r.stdout).toContain('--top-p F');
    }
  });

  it('exits 2 with a clear message for bad arguments', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage:/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['generate', '--tokenizer', TOK_PATH], /--model FILE is required/],
      [gen(MODEL_PATH, TOK_PATH, '--steps', 'abc'), /--steps must be a whole number in 1\.\.\d+, got "abc"/],
      [gen(MODEL_PATH, TOK_PATH, '--steps', '0'), /--steps must be/],
      [gen(MODEL_PATH, TOK_PATH, '--steps', '2.5'), /--steps must be a whole number/],
      [gen(MODEL_PATH, TOK_PATH, '--temperature', '-1'), /--temperature must be a number/],
      [gen(MODEL_PATH, TOK_PATH, '--top-p', '0'), /--top-p must be greater than 0/],
      [gen(MODEL_PATH, TOK_PATH, '--top-p', '1.5'), /--top-p must be/],
      [gen(MODEL_PATH, TOK_PATH, '--seed', '-4'), /--seed must be/],
      [gen(MODEL_PATH, TOK_PATH, '--steps'), /--steps needs a value/],
      [gen(MODEL_PATH, TOK_PATH, '--sneed', '1'), /unknown option --sneed/],
      [gen(MODEL_PATH, TOK_PATH, 'extra'), /unexpected argument "extra"/],
      [
        ['generate', '--model', MODEL_PATH, '--tokenizer', TOK_PATH, '--backend', 'tpu'],
        /--backend must be auto, webgpu or cpu/,
      ],
      [['bench', '--fast'], /unknown option --fast/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('--ctx for every format', () => {
  const HF_DIR = new URL('test/fixtures/stories260K-hf/', root).pathname;
  it('runs an HF folder with a shorter context and refuses one longer than the model’s', async () => {
    const { loadModel } = await import('../../src/cli/model-files.ts');
    const io: CliIo = { stdout: { write: () => undefined }, stderr: { write: () => undefined } };
    expect((await loadModel(io, HF_DIR, undefined)).model.config.seqLen).toBe(512); // min(own 512, 2048)
    expect((await loadModel(io, HF_DIR, undefined, { contextLength: 64 })).model.config.seqLen).toBe(64);
    expect((await loadModel(io, MODEL_PATH, TOK_PATH, { contextLength: 100 })).model.config.seqLen).toBe(100);
    await expect(loadModel(io, HF_DIR, undefined, { contextLength: 4096 })).rejects.toMatchObject({
      code: 'bad-argument',
      message: expect.stringMatching(/1\.\.512/),
    });
    // The greedy text of a short context is the golden prefix while it fits.
    const r = await run(['generate', '--model', HF_DIR, ...args('--backend cpu --temperature 0 --steps 40 --ctx 64')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().length).toBeGreaterThan(60);
    expect(GOLDEN.startsWith(r.stdout.trimEnd())).toBe(true);
  });
});
